"""Classical image layer: FITS reading, source extraction, catalog matching, aperture photometry, frame measurements."""
