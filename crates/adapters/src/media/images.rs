//! Image generation (placeholder).
