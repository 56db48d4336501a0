//! On-disk codec (placeholder; being written).
