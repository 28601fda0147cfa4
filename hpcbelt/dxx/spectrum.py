"""Hiss wave spectrum: a truncated Gaussian in frequency (Glauert & Horne 2005 eq. 5).

    B^2(f) = A^2 exp(-((f - f_m) / df)^2)   for f_lc <= f <= f_uc, 0 outside,

with A^2 set so that the integral over f is the total wave power B_w^2.  Frequencies are
fixed in Hz along the field line (they are a property of the waves, not of the local
plasma), so the normalised band x = f / f_ce(lat) moves down the field line as B grows.

An observation gives the spectral density S(f_ref) at one reference frequency (252 Hz for
the Van Allen Probes EMFISIS channel used by Watt et al. 2021).  With the shape fixed,
B_w^2 = S(f_ref) * W with W = (integral of the shape) / shape(f_ref).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..config import Key, positive


def _lat(v):
    return None if 0.0 < v <= 90.0 else "expected a latitude in (0, 90] deg"


# The [spectrum] table of the build settings: the one source of the defaults of WaveSpectrum.
SCHEMA = {
    "f_m_Hz": Key("float", 550.0, "Hz", "peak of the Gaussian spectrum", check=positive),
    "df_Hz": Key("float", 300.0, "Hz", "width of the Gaussian spectrum", check=positive),
    "f_lc_Hz": Key("float", 100.0, "Hz", "lower cut-off of the band", check=positive),
    "f_uc_Hz": Key("float", 2000.0, "Hz", "upper cut-off of the band", check=positive),
    "lat_max_deg": Key("float", 45.0, "deg", "waves present for |lat| <= this", check=_lat),
    "f_ref_Hz": Key("float", 252.0, "Hz", "frequency at which the intensity Y is given",
                    check=positive),
}


@dataclass(frozen=True)
class WaveSpectrum:
    """Frequency spectrum and latitude extent of the hiss (units and meaning in :data:`SCHEMA`).

    Defaults: the "standard hiss" of Orlova et al. (2014, Table 1) quoted in dxx.md.
    """

    f_m_Hz: float = SCHEMA["f_m_Hz"].default            # peak frequency of the Gaussian [Hz]
    df_Hz: float = SCHEMA["df_Hz"].default              # Gaussian width [Hz]
    f_lc_Hz: float = SCHEMA["f_lc_Hz"].default          # lower cut-off [Hz]
    f_uc_Hz: float = SCHEMA["f_uc_Hz"].default          # upper cut-off [Hz]
    lat_max_deg: float = SCHEMA["lat_max_deg"].default  # waves present for |lat| <= this [deg]
    f_ref_Hz: float = SCHEMA["f_ref_Hz"].default        # frequency of the intensity Y [Hz]

    def check(self, where: str = "wave spectrum") -> None:
        """Raise ValueError (naming ``where``) if the parameters cannot describe a spectrum."""
        for name in ("f_m_Hz", "df_Hz", "f_lc_Hz", "f_uc_Hz", "f_ref_Hz", "lat_max_deg"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v)):
                raise ValueError(f"{where}: {name} must be a finite number, got {v!r}")
        if self.df_Hz <= 0:
            raise ValueError(f"{where}: df_Hz must be > 0, got {self.df_Hz}")
        if not 0 < self.f_lc_Hz < self.f_uc_Hz:
            raise ValueError(f"{where}: need 0 < f_lc_Hz < f_uc_Hz, got "
                             f"{self.f_lc_Hz}, {self.f_uc_Hz}")
        if not self.f_lc_Hz <= self.f_ref_Hz <= self.f_uc_Hz:
            raise ValueError(f"{where}: f_ref_Hz = {self.f_ref_Hz} must lie in the band "
                             f"[{self.f_lc_Hz}, {self.f_uc_Hz}] Hz")
        if not 0 < self.lat_max_deg <= 90:
            raise ValueError(f"{where}: lat_max_deg must be in (0, 90], got {self.lat_max_deg}")

    def shape(self, f_Hz: float) -> float:
        """Un-normalised spectral shape exp(-((f - f_m)/df)^2) inside the band, else 0."""
        if f_Hz < self.f_lc_Hz or f_Hz > self.f_uc_Hz:
            return 0.0
        return math.exp(-(((f_Hz - self.f_m_Hz) / self.df_Hz) ** 2))

    def rho(self) -> float:
        """Integral of the shape over the band in units of df (Summers et al. 2007 eq. 3).

        rho = (sqrt(pi)/2) [erf((f_m - f_lc)/df) + erf((f_uc - f_m)/df)]; it is the same in
        any frequency unit, so the local normalised band uses it unchanged.
        """
        return 0.5 * math.sqrt(math.pi) * (
            math.erf((self.f_m_Hz - self.f_lc_Hz) / self.df_Hz)
            + math.erf((self.f_uc_Hz - self.f_m_Hz) / self.df_Hz))

    def shape_integral_Hz(self) -> float:
        """Integral of the shape over the band [Hz]."""
        return self.df_Hz * self.rho()

    def bandwidth_factor_Hz(self) -> float:
        """W = B_w^2 / S(f_ref) [Hz]: 1402 Hz for the standard spectrum (dxx.md)."""
        s = self.shape(self.f_ref_Hz)
        if s <= 0.0:
            raise ValueError(f"wave spectrum: the shape vanishes at f_ref_Hz = {self.f_ref_Hz}")
        return self.shape_integral_Hz() / s

    def total_power_nT2(self, intensity_nT2_per_Hz: float) -> float:
        """Total wave power B_w^2 [nT^2] from the intensity at f_ref [nT^2/Hz]."""
        return intensity_nT2_per_Hz * self.bandwidth_factor_Hz()

    def as_dict(self) -> dict:
        return asdict(self)
