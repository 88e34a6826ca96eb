//! GGUF metadata values (all thirteen value types of the format).

use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub enum MetaValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    /// Element type id and items (arrays may nest).
    Array(u32, Vec<MetaValue>),
    U64(u64),
    I64(i64),
    F64(f64),
}

/// GGUF value type ids (`enum gguf_type`).
pub mod type_id {
    pub const U8: u32 = 0;
    pub const I8: u32 = 1;
    pub const U16: u32 = 2;
    pub const I16: u32 = 3;
    pub const U32: u32 = 4;
    pub const I32: u32 = 5;
    pub const F32: u32 = 6;
    pub const BOOL: u32 = 7;
    pub const STRING: u32 = 8;
    pub const ARRAY: u32 = 9;
    pub const U64: u32 = 10;
    pub const I64: u32 = 11;
    pub const F64: u32 = 12;
}

impl MetaValue {
    pub fn type_id(&self) -> u32 {
        use type_id::*;
        match self {
            MetaValue::U8(_) => U8,
            MetaValue::I8(_) => I8,
            MetaValue::U16(_) => U16,
            MetaValue::I16(_) => I16,
            MetaValue::U32(_) => U32,
            MetaValue::I32(_) => I32,
            MetaValue::F32(_) => F32,
            MetaValue::Bool(_) => BOOL,
            MetaValue::String(_) => STRING,
            MetaValue::Array(..) => ARRAY,
            MetaValue::U64(_) => U64,
            MetaValue::I64(_) => I64,
            MetaValue::F64(_) => F64,
        }
    }

    /// Any integer type as i64 (u64 values above i64::MAX give `None`).
    pub fn as_i64(&self) -> Option<i64> {
        Some(match *self {
            MetaValue::U8(v) => v as i64,
            MetaValue::I8(v) => v as i64,
            MetaValue::U16(v) => v as i64,
            MetaValue::I16(v) => v as i64,
            MetaValue::U32(v) => v as i64,
            MetaValue::I32(v) => v as i64,
            MetaValue::U64(v) => i64::try_from(v).ok()?,
            MetaValue::I64(v) => v,
            _ => return None,
        })
    }

    /// Any numeric type as f64.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            MetaValue::F32(v) => Some(v as f64),
            MetaValue::F64(v) => Some(v),
            _ => self.as_i64().map(|v| v as f64),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetaValue::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            MetaValue::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[MetaValue]> {
        match self {
            MetaValue::Array(_, items) => Some(items),
            _ => None,
        }
    }

    /// A JSON rendering; arrays longer than `max_items` are cut, with the count kept.
    pub fn to_json(&self, max_items: usize) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            MetaValue::String(s) => J::String(s.clone()),
            MetaValue::Bool(b) => J::Bool(*b),
            MetaValue::F32(v) => serde_json::Number::from_f64(*v as f64).map_or(J::Null, J::Number),
            MetaValue::F64(v) => serde_json::Number::from_f64(*v).map_or(J::Null, J::Number),
            MetaValue::U64(v) => J::from(*v),
            MetaValue::Array(_, items) if items.len() > max_items => serde_json::json!({
                "len": items.len(),
                "head": items.iter().take(max_items).map(|v| v.to_json(max_items)).collect::<Vec<_>>(),
            }),
            MetaValue::Array(_, items) => J::Array(items.iter().map(|v| v.to_json(max_items)).collect()),
            other => J::from(other.as_i64().unwrap_or_default()),
        }
    }
}

impl fmt::Display for MetaValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetaValue::String(s) if s.len() > 60 => {
                let mut cut = 60;
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                write!(f, "{:?}... ({} bytes)", &s[..cut], s.len())
            }
            MetaValue::String(s) => write!(f, "{s:?}"),
            MetaValue::Array(_, items) if items.len() > 4 => {
                let head: Vec<String> = items.iter().take(4).map(|v| v.to_string()).collect();
                write!(f, "[{}, ... ({} items)]", head.join(", "), items.len())
            }
            MetaValue::Array(_, items) => {
                let all: Vec<String> = items.iter().map(|v| v.to_string()).collect();
                write!(f, "[{}]", all.join(", "))
            }
            MetaValue::Bool(b) => write!(f, "{b}"),
            MetaValue::F32(v) => write!(f, "{v}"),
            MetaValue::F64(v) => write!(f, "{v}"),
            other => write!(f, "{}", other.as_i64().map_or_else(|| format!("{other:?}"), |v| v.to_string())),
        }
    }
}
