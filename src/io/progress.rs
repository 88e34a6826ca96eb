//! What a writer tells its caller as tensors are written (the library does not print).

/// One event of a file being written: first the totals, then one event per tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress<'a> {
    /// Before any tensor is written: how many tensors and bytes of tensor data there will be.
    Start { tensors: usize, bytes: u64 },
    /// A tensor has been written: its name in the file and its bytes.
    Tensor { name: &'a str, bytes: u64 },
}
