"""Four image-to-image networks, written once as a PyTorch user writes them, trained under
``torch`` and under ``lucid`` from the same source.

Each ``build_*(T)`` uses only ``T.nn``, ``T.nn.functional``, ``T.optim`` and a few ``T.*``
functions, so ``T`` may be ``torch`` or ``lucid``:

- ``build_style_transfer``: Johnson et al.'s fast style-transfer generator (reflection-padded
  convolutions, instance norm, residual blocks, upsampling by ``F.interpolate`` then a
  convolution), trained with ``clip_grad_norm_`` and ``StepLR``;
- ``build_pix2pix``: the pix2pix U-Net (strided convolutions, LeakyReLU, ConvTranspose2d,
  Dropout, skip connections by ``cat``) and its PatchGAN discriminator, trained with two Adam
  optimisers (``betas=(0.5, 0.999)``), BCE-with-logits and L1 losses and a linear-decay
  ``LambdaLR``;
- ``build_cyclegan``: the CycleGAN ResNet generator of ``docs/porting-pytorch.md``;
- ``build_segmentation``: a small segmentation U-Net (MaxPool2d, BatchNorm2d,
  ``Upsample(bilinear)``), trained with SGD, momentum and ``CosineAnnealingLR``.

``make_step(name, T, models, data)`` gives one training step (``*_loss`` functions hold the
objectives); ``train(name, T, models, data, steps)`` runs it and returns the losses.
``python examples/networks.py`` builds each network in torch, copies its ``state_dict`` into
the lucid one, trains both on the same data and prints the two loss curves (lucid alone if
torch is not installed). ``tests/facade/test_networks.py`` checks they agree to 1e-4.
"""

from __future__ import annotations

import importlib
import importlib.util

import numpy as np

NETWORKS = ("style_transfer", "pix2pix", "cyclegan", "segmentation")


# -- fast style transfer (Johnson et al. 2016, instance norm after Ulyanov et al.) ----------

def build_style_transfer(T, width=8, blocks=2):
    nn, F = T.nn, T.nn.functional

    class ConvLayer(nn.Module):
        def __init__(self, cin, cout, kernel, stride=1):
            super().__init__()
            self.pad = nn.ReflectionPad2d(kernel // 2)
            self.conv = nn.Conv2d(cin, cout, kernel, stride)

        def forward(self, x):
            return self.conv(self.pad(x))

    class Residual(nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.conv1 = ConvLayer(channels, channels, 3)
            self.in1 = nn.InstanceNorm2d(channels, affine=True)
            self.conv2 = ConvLayer(channels, channels, 3)
            self.in2 = nn.InstanceNorm2d(channels, affine=True)
            self.relu = nn.ReLU()

        def forward(self, x):
            y = self.relu(self.in1(self.conv1(x)))
            return x + self.in2(self.conv2(y))

    class Upsample(nn.Module):
        """Nearest-neighbour upsampling then a convolution (no checkerboard artefacts)."""

        def __init__(self, cin, cout, kernel, scale):
            super().__init__()
            self.scale = scale
            self.conv = ConvLayer(cin, cout, kernel)

        def forward(self, x):
            return self.conv(F.interpolate(x, scale_factor=self.scale, mode="nearest"))

    class TransformerNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.down = nn.Sequential(
                ConvLayer(3, width, 9), nn.InstanceNorm2d(width, affine=True), nn.ReLU(),
                ConvLayer(width, 2 * width, 3, 2), nn.InstanceNorm2d(2 * width, affine=True),
                nn.ReLU())
            self.res = nn.Sequential(*[Residual(2 * width) for _ in range(blocks)])
            self.up = nn.Sequential(
                Upsample(2 * width, width, 3, 2), nn.InstanceNorm2d(width, affine=True),
                nn.ReLU(), ConvLayer(width, 3, 9))

        def forward(self, x):
            return self.up(self.res(self.down(x)))

    return TransformerNet()


def style_transfer_loss(T, model, x, target):
    """MSE to the stylised target plus total variation."""
    y = model(x)
    variation = ((y[:, :, 1:, :] - y[:, :, :-1, :]).abs().mean()
                 + (y[:, :, :, 1:] - y[:, :, :, :-1]).abs().mean())
    return T.nn.functional.mse_loss(y, target) + 1e-2 * variation


def style_transfer_step(T, model, data, max_norm=0.5):
    """Adam on gradients clipped to a total norm of ``max_norm``, and StepLR halving the
    learning rate every 2 steps."""
    x, target = (T.tensor(a) for a in data)
    optimizer = T.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = T.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)

    def step():
        optimizer.zero_grad()
        loss = style_transfer_loss(T, model, x, target)
        loss.backward()
        T.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
        scheduler.step()
        return loss.item()
    return step


# -- pix2pix: U-Net generator and PatchGAN discriminator (Isola et al. 2017) ---------------

def build_pix2pix(T, width=8, channels=3):
    nn = T.nn

    class Down(nn.Module):
        def __init__(self, cin, cout, norm=True):
            super().__init__()
            layers = [nn.Conv2d(cin, cout, 4, 2, 1, bias=not norm)]
            if norm:
                layers.append(nn.InstanceNorm2d(cout))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            self.model = nn.Sequential(*layers)

        def forward(self, x):
            return self.model(x)

    class Up(nn.Module):
        def __init__(self, cin, cout, dropout=0.0):
            super().__init__()
            layers = [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False),
                      nn.InstanceNorm2d(cout), nn.ReLU(inplace=True)]
            if dropout:
                layers.append(nn.Dropout(dropout))
            self.model = nn.Sequential(*layers)

        def forward(self, x, skip):
            return T.cat((self.model(x), skip), 1)

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.down1 = Down(channels, width, norm=False)
            self.down2 = Down(width, 2 * width)
            self.down3 = Down(2 * width, 4 * width)
            self.down4 = Down(4 * width, 4 * width, norm=False)
            self.up1 = Up(4 * width, 4 * width, dropout=0.5)
            self.up2 = Up(8 * width, 2 * width, dropout=0.5)
            self.up3 = Up(4 * width, width)
            self.final = nn.Sequential(nn.ConvTranspose2d(2 * width, channels, 4, 2, 1),
                                       nn.Tanh())

        def forward(self, x):
            d1 = self.down1(x)
            d2 = self.down2(d1)
            d3 = self.down3(d2)
            d4 = self.down4(d3)
            u1 = self.up1(d4, d3)
            u2 = self.up2(u1, d2)
            u3 = self.up3(u2, d1)
            return self.final(u3)

    class PatchGAN(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = nn.Sequential(
                nn.Conv2d(2 * channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True),
                nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.InstanceNorm2d(2 * width),
                nn.LeakyReLU(0.2, True),
                nn.Conv2d(2 * width, 4 * width, 4, 1, 1, bias=False),
                nn.InstanceNorm2d(4 * width), nn.LeakyReLU(0.2, True),
                nn.Conv2d(4 * width, 1, 4, 1, 1))

        def forward(self, a, b):
            return self.model(T.cat([a, b], dim=1))

    return UNet(), PatchGAN()


def pix2pix_d_loss(T, discriminator, a, b, fake):
    """The discriminator's BCE on the real pair and the (detached) fake pair, halved."""
    gan_loss = T.nn.BCEWithLogitsLoss()
    pred_fake, pred_real = discriminator(a, fake.detach()), discriminator(a, b)
    return 0.5 * (gan_loss(pred_fake, T.zeros_like(pred_fake))
                  + gan_loss(pred_real, T.ones_like(pred_real)))


def pix2pix_g_loss(T, discriminator, a, b, fake):
    """The generator's GAN loss plus 100 times the L1 distance to the target."""
    pred_fake = discriminator(a, fake)
    return (T.nn.BCEWithLogitsLoss()(pred_fake, T.ones_like(pred_fake))
            + 100.0 * T.nn.L1Loss()(fake, b))


def pix2pix_step(T, models, data, decay_start=2, decay_steps=4):
    """pix2pix's loop: D on real and fake pairs, then G (D frozen); Adam with betas (0.5,
    0.999) and a learning rate constant for ``decay_start`` steps, then decaying linearly."""
    generator, discriminator = models
    a, b = (T.tensor(v) for v in data)
    opt_g = T.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = T.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def linear_decay(epoch):
        return max(0.0, 1.0 - max(0, epoch - decay_start) / float(decay_steps + 1))

    schedulers = [T.optim.lr_scheduler.LambdaLR(o, linear_decay) for o in (opt_g, opt_d)]

    def step():
        fake = generator(a)
        for p in discriminator.parameters():
            p.requires_grad = True
        opt_d.zero_grad()
        loss_d = pix2pix_d_loss(T, discriminator, a, b, fake)
        loss_d.backward()
        opt_d.step()
        for p in discriminator.parameters():
            p.requires_grad = False
        opt_g.zero_grad()
        loss_g = pix2pix_g_loss(T, discriminator, a, b, fake)
        loss_g.backward()
        opt_g.step()
        for scheduler in schedulers:
            scheduler.step()
        return loss_d.item(), loss_g.item()
    return step


# -- CycleGAN's ResNet generator, as in docs/porting-pytorch.md ----------------------------

def build_cyclegan(T, channels=3, width=8, blocks=2):
    nn = T.nn

    def norm(c):
        return nn.InstanceNorm2d(c, affine=True, track_running_stats=True)

    class ConvNormReLU(nn.Module):
        def __init__(self, cin, cout, kernel, stride=1, padding=0, reflect=0):
            super().__init__()
            self.pad = nn.ReflectionPad2d(reflect)
            self.conv = nn.Conv2d(cin, cout, kernel, stride, padding)
            self.norm = norm(cout)

        def forward(self, x):
            return T.relu(self.norm(self.conv(self.pad(x))))

    class ResidualBlock(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.block = nn.Sequential(
                nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), norm(c), nn.ReLU(),
                nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), norm(c))

        def forward(self, x):
            return x + self.block(x)

    class UpNormReLU(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.conv = nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1)
            self.norm = norm(cout)

        def forward(self, x):
            return T.relu(self.norm(self.conv(x)))

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = ConvNormReLU(channels, width, 7, reflect=3)
            self.down = nn.ModuleList([ConvNormReLU(width, 2 * width, 3, stride=2, padding=1)])
            self.blocks = nn.ModuleList([ResidualBlock(2 * width) for _ in range(blocks)])
            self.up = nn.ModuleList([UpNormReLU(2 * width, width)])
            self.head = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(width, channels, 7))

        def forward(self, x):
            x = self.stem(x)
            for layer in [*self.down, *self.blocks, *self.up]:
                x = layer(x)
            return T.tanh(self.head(x))

    return Generator()


def cyclegan_loss(T, model, x, target):
    return T.nn.functional.mse_loss(model(x), target)


def cyclegan_step(T, model, data):
    """The porting guide's loop: Adam on the MSE to a fixed target."""
    x, target = (T.tensor(v) for v in data)
    optimizer = T.optim.Adam(model.parameters(), lr=1e-2)

    def step():
        optimizer.zero_grad()
        loss = cyclegan_loss(T, model, x, target)
        loss.backward()
        optimizer.step()
        return loss.item()
    return step


# -- a small segmentation U-Net (Ronneberger et al. 2015, with batch norm) -----------------

def build_segmentation(T, channels=3, classes=4, width=8):
    nn = T.nn

    def double_conv(cin, cout):
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True))

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.inc = double_conv(channels, width)
            self.down1 = nn.Sequential(nn.MaxPool2d(2), double_conv(width, 2 * width))
            self.down2 = nn.Sequential(nn.MaxPool2d(2), double_conv(2 * width, 4 * width))
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
            self.conv1 = double_conv(6 * width, 2 * width)
            self.conv2 = double_conv(3 * width, width)
            self.outc = nn.Conv2d(width, classes, 1)

        def forward(self, x):
            x1 = self.inc(x)
            x2 = self.down1(x1)
            x3 = self.down2(x2)
            y = self.conv1(T.cat([x2, self.up(x3)], dim=1))
            y = self.conv2(T.cat([x1, self.up(y)], dim=1))
            return self.outc(y)

    return UNet()


def segmentation_loss(T, model, x, labels):
    """Cross entropy per pixel."""
    return T.nn.functional.cross_entropy(model(x), labels)


def segmentation_step(T, model, data, period=4):
    """SGD with momentum and weight decay, the learning rate on a cosine of ``period``."""
    x, labels = T.tensor(data[0]), T.tensor(data[1])
    optimizer = T.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    scheduler = T.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=period)

    def step():
        optimizer.zero_grad()
        loss = segmentation_loss(T, model, x, labels)
        loss.backward()
        optimizer.step()
        scheduler.step()
        return loss.item()
    return step


# -- running them -------------------------------------------------------------------------

def build(name, T):
    """The network ``name`` (a module, or pix2pix's ``(generator, discriminator)``)."""
    return globals()[f"build_{name}"](T)


def make_step(name, T, models, data):
    """``step()``: one training step of ``models`` (from :func:`build`) on ``data``; it
    returns the loss (pix2pix: the discriminator's and the generator's)."""
    return globals()[f"{name}_step"](T, models, data)


def train(name, T, models, data, steps):
    """Train ``models`` on ``data`` for ``steps``; the losses."""
    step = make_step(name, T, models, data)
    return [step() for _ in range(steps)]


def make_data(name, size=16, batch=2, seed=0):
    """Fixed NumPy inputs and targets for ``name`` (float32; class indices for segmentation)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, 3, size, size)).astype(np.float32)
    if name == "segmentation":
        return x, (x[:, 0] > 0).astype(np.int64) + 2 * (x[:, 1] > 0.5).astype(np.int64)
    return x, np.tanh(rng.standard_normal((batch, 3, size, size))).astype(np.float32)


def as_list(models):
    return list(models) if isinstance(models, tuple) else [models]


def copy_weights(source_models, target_models):
    """Load each source model's ``state_dict`` into the matching target (torch -> lucid)."""
    for source, target in zip(as_list(source_models), as_list(target_models), strict=True):
        target.load_state_dict(source.state_dict())


def eval_dropout(models):
    """Dropout layers to eval mode: torch's and lucid's masks come from different generators,
    so a step-for-step comparison runs them as the identity (everything else trains)."""
    for model in as_list(models):
        for module in model.modules():
            if type(module).__name__ == "Dropout":
                module.eval()


def main(steps=5):
    import lucid

    torch = importlib.import_module("torch") if importlib.util.find_spec("torch") else None
    for name in NETWORKS:
        data = make_data(name)
        ours = build(name, lucid)
        if torch is not None:
            torch.manual_seed(0)
            theirs = build(name, torch)
            copy_weights(theirs, ours)
            eval_dropout(theirs)
            eval_dropout(ours)
            print(f"{name:15s} torch", np.round(train(name, torch, theirs, data, steps), 5)
                  .tolist())
        print(f"{name:15s} lucid", np.round(train(name, lucid, ours, data, steps), 5).tolist())


if __name__ == "__main__":
    main()
