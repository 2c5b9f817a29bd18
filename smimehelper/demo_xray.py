"""Synthetic dental x-ray for the ``demo`` command.

Why this module exists: a user trying smimehelper for the first time should be
able to send an encrypted DICOM file without touching real patient data.  This
module draws a plausible-looking intra-oral radiograph (three teeth with
enamel, dentin, pulp and roots in trabecular bone, plus sensor noise) purely
with numpy and wraps it in a real DICOM Part 10 file.  Nothing is downloaded,
every identifying attribute is clearly synthetic, and the pixel data depend
only on ``seed`` so the demo is reproducible.

The file is written atomically (see :mod:`smimehelper.core.atomic`) so an
interrupted run never leaves a truncated DICOM file.
"""

from __future__ import annotations

import pathlib

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    ExplicitVRLittleEndian,
    generate_uid,
)

from .core.atomic import atomic_writer

__all__ = [
    "DIGITAL_INTRA_ORAL_XRAY_FOR_PRESENTATION",
    "IMAGE_COLUMNS",
    "IMAGE_ROWS",
    "write_synthetic_dental_xray",
]

#: Digital Intra-Oral X-Ray Image Storage - For Presentation.
DIGITAL_INTRA_ORAL_XRAY_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.3"

#: Image geometry (landscape sensor, like a size-2 intra-oral detector).
IMAGE_ROWS = 400
IMAGE_COLUMNS = 512

_BITS_STORED = 12
_MAX_VALUE = (1 << _BITS_STORED) - 1  # 4095

FloatArray = npt.NDArray[np.float64]


# --------------------------------------------------------------------------
# Image synthesis
# --------------------------------------------------------------------------


def _sigmoid(d: FloatArray, softness: float = 1.2) -> FloatArray:
    """Soft step: ~0 for d << 0, ~1 for d >> 0 (d is a distance in pixels)."""
    return 0.5 * (1.0 + np.tanh(d / (2.0 * softness)))


def _blur(a: FloatArray, sigma: float) -> FloatArray:
    """Gaussian blur via FFT (periodic edges are fine for noise textures)."""
    fy = np.fft.fftfreq(a.shape[0])[:, None]
    fx = np.fft.rfftfreq(a.shape[1])[None, :]
    kernel = np.exp(-2.0 * (np.pi * sigma) ** 2 * (fx**2 + fy**2))
    return np.fft.irfft2(np.fft.rfft2(a) * kernel, s=a.shape)


def _normalise(a: FloatArray) -> FloatArray:
    """Scale to zero mean and unit standard deviation."""
    return (a - a.mean()) / (a.std() + 1e-12)


class _Tooth:
    """Accumulates density layers of one mandibular tooth (crown up, roots down)."""

    def __init__(
        self,
        yy: FloatArray,
        xx: FloatArray,
        *,
        cx: float,
        half_width: float,
        occlusal_y: float,
        cej_y: float,
        apex_y: float,
        roots: list[tuple[float, float, float]],
        fossae: list[float],
        trunk: float,
    ) -> None:
        # roots: (x offset at CEJ as a fraction of half_width, root half width
        # as a fraction of half_width, bend in pixels at the apex).
        hw = half_width
        u = (xx - cx) / hw
        dx = np.abs(xx - cx)

        # ---- crown -------------------------------------------------------
        t = np.clip((yy - occlusal_y) / (cej_y - occlusal_y), 0.0, 1.0)
        profile = 0.72 + 0.28 * np.sin(np.pi * (0.25 + 0.75 * t))
        crown_hw = hw * profile
        top = occlusal_y + 20.0 * np.clip(np.abs(u), 0.0, 1.2) ** 4
        for f in fossae:  # fossae between the cusps dip the occlusal outline
            top = top + 9.0 * np.exp(-(((u - f) / 0.14) ** 2))
        d_side = crown_hw - dx
        d_top = yy - top
        crown = _sigmoid(d_side) * _sigmoid(d_top) * _sigmoid(cej_y + 6.0 - yy)
        # Rounded (cylinder-like) thickness across the crown.
        crown_thick = np.sqrt(np.clip(1.0 - (dx / crown_hw) ** 2, 0.0, 1.0))

        enamel_thickness = 12.0 * (1.0 - t) ** 0.7 + 0.5
        enamel = crown * _sigmoid(enamel_thickness - np.minimum(d_side, d_top), 1.5)
        enamel = enamel * _sigmoid(cej_y - yy, 2.0)

        # ---- roots ---------------------------------------------------------
        root_start = cej_y - 12.0
        length = apex_y - root_start
        tr = np.clip((yy - root_start) / length, 0.0, 1.0)
        root = np.zeros_like(xx)
        root_thick = np.zeros_like(xx)
        canal = np.zeros_like(xx)
        self.socket_dist = np.full_like(xx, 1e3)  # px outside nearest root wall
        for off, rw, bend in roots:
            centre = cx + off * hw + bend * tr**2
            w = rw * hw * (1.0 - tr) ** 0.55 + 0.5
            if trunk > 0 and off != 0.0:
                # Multi-rooted tooth: roots fuse into a trunk near the CEJ.
                fuse = np.clip(1.0 - (yy - root_start) / trunk, 0.0, 1.0)
                centre = centre * (1.0 - fuse) + cx * fuse
                w = w * (1.0 - fuse) + 0.74 * hw * fuse
            d = w - np.abs(xx - centre)
            in_len = _sigmoid(yy - root_start) * _sigmoid(apex_y - yy, 2.0)
            r = _sigmoid(d) * in_len
            root = np.maximum(root, r)
            root_thick = np.maximum(
                root_thick, r * np.sqrt(np.clip(1.0 - ((xx - centre) / w) ** 2, 0.0, 1.0))
            )
            canal_w = 0.17 * w + 1.3
            c = _sigmoid(canal_w - np.abs(xx - centre), 0.8) * _sigmoid(
                apex_y - 10.0 - yy, 2.0
            ) * _sigmoid(yy - root_start + 20.0)
            canal = np.maximum(canal, c)
            outside = np.where(yy < apex_y + 8.0, -d, 1e3)
            outside = np.where(
                yy >= apex_y,
                np.hypot(yy - apex_y, xx - (cx + off * hw + bend)),
                outside,
            )
            self.socket_dist = np.minimum(self.socket_dist, outside)

        # ---- pulp chamber ------------------------------------------------------
        ch_cy = cej_y - 18.0
        # Rounded chamber that funnels towards the canal(s) at its floor.
        funnel = 1.0 - 0.45 * np.clip((yy - ch_cy) / 26.0, 0.0, 1.0) ** 1.5
        chamber = _sigmoid(
            1.0
            - (((xx - cx) / (0.34 * hw * funnel)) ** 4 + ((yy - ch_cy) / 26.0) ** 4) ** 0.5,
            0.06,
        )
        for side in (-1.0, 1.0):  # pulp horns: tapered extensions up under the cusps
            hx = cx + side * 0.24 * hw
            horn = ((xx - hx) / (0.08 * hw)) ** 2 + ((yy - (ch_cy - 20.0)) / 24.0) ** 2
            chamber = np.maximum(chamber, _sigmoid(1.0 - horn, 0.08))
        pulp = np.maximum(chamber * _sigmoid(yy - occlusal_y - 35.0, 3.0), canal)

        self.mask = np.maximum(crown, root)
        thickness = np.maximum(crown * crown_thick, root_thick)
        dentin = 0.2 + 0.8 * thickness
        self.density = self.mask * (1.6 * dentin) + 1.5 * enamel * (0.5 + 0.5 * crown_thick)
        self.density -= 0.9 * pulp * self.mask * dentin
        self.crown = crown
        self.cx = cx


def _synthesise_pixels(seed: int) -> npt.NDArray[np.uint16]:
    """Return a deterministic 12-bit (stored in uint16) intra-oral image."""
    rng = np.random.default_rng(seed)
    h, w = IMAGE_ROWS, IMAGE_COLUMNS
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)

    def jitter(scale: float) -> float:
        return float(rng.uniform(-scale, scale))

    occ = 58.0 + jitter(6.0)
    cej = 178.0 + jitter(6.0)
    tilt = jitter(0.03)  # slight projection tilt of the whole arch
    yy_t = yy + tilt * (xx - w / 2)

    teeth = [
        _Tooth(  # second premolar
            yy_t, xx, cx=92.0 + jitter(5.0), half_width=66.0 + jitter(3.0),
            occlusal_y=occ + 6.0, cej_y=cej, apex_y=372.0 + jitter(10.0),
            roots=[(0.0, 0.56, jitter(8.0))], fossae=[0.05], trunk=0.0,
        ),
        _Tooth(  # first molar (two roots)
            yy_t, xx, cx=250.0 + jitter(4.0), half_width=88.0 + jitter(3.0),
            occlusal_y=occ, cej_y=cej + 4.0, apex_y=360.0 + jitter(10.0),
            roots=[(-0.42, 0.36, -10.0 + jitter(4.0)), (0.42, 0.34, 14.0 + jitter(4.0))],
            fossae=[-0.3, 0.3], trunk=55.0,
        ),
        _Tooth(  # second molar, partly off the sensor edge
            yy_t, xx, cx=428.0 + jitter(4.0), half_width=84.0 + jitter(3.0),
            occlusal_y=occ + 4.0, cej_y=cej + 2.0, apex_y=352.0 + jitter(10.0),
            roots=[(-0.4, 0.34, 4.0 + jitter(4.0)), (0.4, 0.32, 12.0 + jitter(4.0))],
            fossae=[-0.3, 0.3], trunk=60.0,
        ),
    ]

    # ---- trabecular bone --------------------------------------------------
    n1 = _normalise(_blur(rng.standard_normal((h, w)), 4.5))
    n2 = _normalise(_blur(rng.standard_normal((h, w)), 2.2))
    n3 = _normalise(_blur(rng.standard_normal((h, w)), 14.0))
    # Ridges of band-limited noise look like a trabecular network with
    # darker marrow spaces in between.
    trabecular = 0.6 * np.exp(-(n1**2) * 0.9) + 0.25 * np.exp(-(n2**2) * 1.2)
    trabecular = 0.5 + 0.55 * trabecular + 0.08 * n3

    # Alveolar crest: follows the CEJs and peaks in the interdental septa.
    crest = cej + 32.0 + 0.02 * (xx - w / 2)
    for left, right in zip(teeth, teeth[1:]):
        septum_x = 0.5 * (left.cx + right.cx)
        crest = crest - 24.0 * np.exp(-(((xx - septum_x) / 20.0) ** 2))
    crest = crest + 2.0 * n3
    bone = 0.8 * trabecular * _sigmoid(yy_t - crest, 2.5)
    # Cortical crest line.
    bone += 0.3 * np.exp(-(((yy_t - crest - 3.0) / 2.5) ** 2))

    tooth_mask = np.zeros_like(xx)
    tooth_density = np.zeros_like(xx)
    socket = np.full_like(xx, 1e3)
    for tooth in teeth:
        tooth_mask = np.maximum(tooth_mask, tooth.mask)
        tooth_density += tooth.density  # overlapping contacts add up
        socket = np.minimum(socket, tooth.socket_dist)

    below_crest = _sigmoid(yy_t - crest, 2.0)
    pdl = np.exp(-(((socket - 1.8) / 1.2) ** 2))  # dark ligament space
    lamina = np.exp(-(((socket - 5.5) / 1.8) ** 2))  # bright lamina dura
    bone = bone * (1.0 - 0.5 * pdl * below_crest) + 0.5 * lamina * below_crest
    bone = bone * (1.0 - 0.45 * tooth_mask)

    # ---- soft tissue and restoration ----------------------------------------
    gum_line = cej - 22.0 + 4.0 * np.sin(xx / 50.0)
    soft = 0.18 + 0.22 * _sigmoid(yy_t - gum_line, 6.0) + 0.06 * _sigmoid(yy - 40.0, 20.0)

    fx, fy = teeth[1].cx + jitter(6.0), occ + 22.0
    filling = _sigmoid(
        1.0 - (np.abs((xx - fx) / 40.0) ** 3 + np.abs((yy_t - fy) / 24.0) ** 3), 0.05
    ) * teeth[1].crown

    attenuation = soft + bone + tooth_density + 4.0 * filling

    # ---- projection, detector response and noise ---------------------------
    signal = 1.0 - np.exp(-0.6 * attenuation)
    signal += 0.012 * _normalise(_blur(rng.standard_normal((h, w)), 0.8))
    signal += 0.008 * rng.standard_normal((h, w))
    # Gentle heel-effect style gradient across the detector.
    signal *= 0.96 + 0.04 * (xx / w)
    image = 150.0 + signal * 4000.0

    # Rounded sensor corners (no signal outside the active area).
    r = 36.0
    cxn = np.clip(xx, r, w - 1 - r)
    cyn = np.clip(yy, r, h - 1 - r)
    outside = _sigmoid(np.hypot(xx - cxn, yy - cyn) - r, 0.8)
    image = image * (1.0 - outside) + 40.0 * outside

    return np.clip(np.rint(image), 0, _MAX_VALUE).astype(np.uint16)


# --------------------------------------------------------------------------
# DICOM wrapping
# --------------------------------------------------------------------------


def _build_dataset(pixels: npt.NDArray[np.uint16]) -> Dataset:
    """Wrap ``pixels`` in a DX/IO For Presentation dataset with synthetic identity."""
    sop_instance_uid = generate_uid()

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DIGITAL_INTRA_ORAL_XRAY_FOR_PRESENTATION
    meta.MediaStorageSOPInstanceUID = sop_instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID

    ds = Dataset()
    ds.file_meta = meta
    ds.preamble = b"\x00" * 128

    # SOP common
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = DIGITAL_INTRA_ORAL_XRAY_FOR_PRESENTATION
    ds.SOPInstanceUID = sop_instance_uid

    # Patient: obviously synthetic, no real person.
    ds.PatientName = "DEMO^SYNTHETIC"
    ds.PatientID = "DEMO-0001"
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.PatientComments = "Synthetic demo patient - not a real person."

    # Study / series (fixed dates so nothing hints at a real encounter).
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.StudyDate = "20260101"
    ds.StudyTime = "090000"
    ds.SeriesDate = "20260101"
    ds.SeriesTime = "090000"
    ds.ContentDate = "20260101"
    ds.ContentTime = "090000"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyID = "DEMO"
    ds.StudyDescription = "SYNTHETIC DEMO DATA - smimehelper demo, no patient data"
    ds.SeriesDescription = "Synthetic intra-oral radiograph"
    ds.Modality = "IO"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.PresentationIntentType = "FOR PRESENTATION"

    # Equipment
    ds.Manufacturer = "smimehelper (synthetic)"
    ds.ManufacturerModelName = "demo_xray"

    # Image / DX image / IO image
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.ImageComments = (
        "Synthetic image generated with numpy for the smimehelper demo; "
        "contains no patient data."
    )
    ds.PatientOrientation = ""
    ds.ImageLaterality = "U"
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    ds.PixelIntensityRelationship = "LOG"
    ds.PixelIntensityRelationshipSign = 1
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.RescaleType = "US"
    ds.PresentationLUTShape = "IDENTITY"
    ds.WindowCenter = 2048
    ds.WindowWidth = 4096
    ds.DetectorType = "SCINTILLATOR"
    ds.ImagerPixelSpacing = [0.05, 0.05]
    ds.PixelSpacing = [0.05, 0.05]

    # Image pixel
    rows, columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = columns
    ds.BitsAllocated = 16
    ds.BitsStored = _BITS_STORED
    ds.HighBit = _BITS_STORED - 1
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.astype("<u2", copy=False).tobytes()
    return ds


def write_synthetic_dental_xray(path: pathlib.Path, *, seed: int = 0) -> None:
    """Write a synthetic intra-oral dental x-ray as a DICOM Part 10 file.

    The image (512 x 400, 16-bit allocated / 12-bit stored, MONOCHROME2) is
    generated deterministically from ``seed``; UIDs are freshly generated on
    every call.  The file is written atomically, so ``path`` is either the
    complete new file or untouched.
    """
    ds = _build_dataset(_synthesise_pixels(seed))
    with atomic_writer(pathlib.Path(path)) as fh:
        ds.save_as(fh, enforce_file_format=True)
