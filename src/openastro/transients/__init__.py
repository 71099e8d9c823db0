"""Transients: ZTF-style alert packets, stamp cutouts, and the U-Net / real-bogus networks."""
