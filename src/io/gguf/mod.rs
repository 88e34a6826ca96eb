//! GGUF: llama.cpp's model file format.

mod cursor;
pub mod reader;
pub mod value;

pub use reader::{GgufFile, GgufTensorInfo};
pub use value::MetaValue;
