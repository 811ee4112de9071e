//! Placeholder; the bad-input suite lands here.
