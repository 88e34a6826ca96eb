//! GGUF: llama.cpp's model file format: the reader, the writer, metadata values, and the
//! metadata keys llama.cpp needs in a quantized model ([`llama_meta`]).

mod cursor;
pub mod llama_meta;
pub mod reader;
pub mod value;
pub mod writer;

pub use reader::{GgufFile, GgufTensorInfo};
pub use value::MetaValue;
pub use writer::{GgufWriter, PlannedGgufTensor};
