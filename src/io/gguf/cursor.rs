//! A bounds-checked little-endian reader over a byte slice: every read checks what is left,
//! so a lying length can fail but never read past the end or allocate from a header's word.

/// Why a read failed. `what` names the field being read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("truncated: {what} needs {need} bytes at offset {at} but only {remain} remain")]
    Truncated { what: String, need: usize, at: usize, remain: usize },
    #[error("{what}: length {len} overflows")]
    LengthOverflow { what: String, len: u64 },
    #[error("{what} at offset {at} is not valid UTF-8")]
    NotUtf8 { what: String, at: usize },
}

/// What a read gives.
type Read<T> = std::result::Result<T, CursorError>;

pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn take(&mut self, n: usize, what: &str) -> Read<&'a [u8]> {
        if n > self.remaining() {
            return Err(CursorError::Truncated {
                what: what.to_string(),
                need: n,
                at: self.pos,
                remain: self.remaining(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn array<const N: usize>(&mut self, what: &str) -> Read<[u8; N]> {
        Ok(self.take(N, what)?.try_into().expect("length checked"))
    }

    pub fn u8(&mut self, what: &str) -> Read<u8> {
        Ok(self.array::<1>(what)?[0])
    }
    pub fn u16(&mut self, what: &str) -> Read<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    pub fn u32(&mut self, what: &str) -> Read<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    pub fn u64(&mut self, what: &str) -> Read<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A GGUF string: u64 length then bytes (v2 and v3 alike). Invalid UTF-8 is an error.
    pub fn string(&mut self, what: &str) -> Read<String> {
        let len = self.u64(what)?;
        let n = usize::try_from(len).map_err(|_| CursorError::LengthOverflow { what: what.to_string(), len })?;
        let bytes = self.take(n, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| CursorError::NotUtf8 { what: what.to_string(), at: self.pos - n })
    }
}
