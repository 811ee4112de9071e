//! Every example validates and plans.
