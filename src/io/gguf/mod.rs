//! GGUF: llama.cpp's model file format.

mod cursor;
pub mod reader;
pub mod value;
pub mod writer;

pub use reader::{GgufFile, GgufTensorInfo};
pub use value::MetaValue;
pub use writer::{GgufWriter, PlannedGgufTensor};
