//! safetensors: Hugging Face's tensor file format.

pub mod reader;
pub mod writer;

pub use reader::SafetensorsModel;
pub use writer::SafetensorsWriter;
