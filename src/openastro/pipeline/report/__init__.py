"""The nightly HTML report: one self-contained, offline page per night, built from the catalog and the products
the stages stored (previews, periodograms, cutouts)."""
