"""Photo pipeline and perceptual fingerprint: pure functions on bytes, no Flask."""
