//! Hostile GGUF files, built field by field: each must give a one-line error that names the file
//! and the problem, exit 1, never panic, and never allocate what a lying header claims.

use crate::util::*;
use sinkquant::io::gguf::GgufFile;

fn small() -> GgufBuilder {
    let mut g = GgufBuilder::new();
    g.str("general.architecture", "llama").u32("llama.block_count", 1);
    g.tensor_f32("a", &[32, 2], &values(1, 64, 1.0));
    g.tensor("b", &[64], 8, vec![0u8; 68]); // two Q8_0 blocks
    g
}

fn open_err(bytes: &[u8]) -> String {
    let dir = tempdir();
    let p = dir.path().join("hostile.gguf");
    std::fs::write(&p, bytes).unwrap();
    match GgufFile::open(&p) {
        Ok(_) => panic!("hostile file was accepted"),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("hostile.gguf"), "error does not name the file: {msg}");
            assert!(!msg.contains('\n'), "error is not one line: {msg}");
            msg
        }
    }
}

#[test]
fn valid_file_reads_back_exactly() {
    let dir = tempdir();
    let p = small().write(&dir.path().join("ok.gguf"));
    let g = GgufFile::open(&p).unwrap();
    assert_eq!(g.version, 3);
    assert_eq!(g.get("llama.block_count").and_then(|v| v.as_i64()), Some(1));
    let a = g.store.get("a").unwrap();
    assert_eq!(a.shape, vec![2, 32]);
    assert_eq!(g.store.read_f32(a).unwrap(), values(1, 64, 1.0));
    assert_eq!(g.store.get("b").unwrap().nbytes, 68);
}

#[test]
fn version_2_is_read() {
    let mut g = small();
    g.version = 2;
    let dir = tempdir();
    let f = GgufFile::open(g.write(&dir.path().join("v2.gguf"))).unwrap();
    assert_eq!(f.version, 2);
}

#[test]
fn every_truncation_is_an_error() {
    let lay = small().layout();
    let bytes = lay.bytes;
    // The last tensor ("b", 68 bytes) starts 256 bytes into the data section; the zero padding
    // after it is not needed.
    let end = lay.data_start + 256 + 68;
    let dir = tempdir();
    let p = dir.path().join("cut.gguf");
    std::fs::write(&p, &bytes[..end]).unwrap();
    assert!(GgufFile::open(&p).is_ok(), "the file without its trailing padding is complete");
    for n in 0..end {
        std::fs::write(&p, &bytes[..n]).unwrap();
        let r = GgufFile::open(&p);
        assert!(r.is_err(), "file cut to {n} of {} bytes was accepted", bytes.len());
    }
}

#[test]
fn bad_magic_and_versions() {
    let mut b = small().bytes();
    b[0] = b'X';
    assert!(open_err(&b).contains("not a GGUF file"));
    for v in [1u32, 4, 0xFFFF_FFFF] {
        let mut g = small();
        g.version = v;
        let msg = open_err(&g.bytes());
        assert!(msg.contains("unsupported") && msg.contains(&format!("version {v}")), "{msg}");
    }
}

#[test]
fn lying_counts_do_not_allocate() {
    // Tensor and metadata counts of 2^60: refused before any allocation.
    let mut b = small().bytes();
    b[8..16].copy_from_slice(&(1u64 << 60).to_le_bytes());
    assert!(open_err(&b).contains("tensors, more than the file can hold"));
    let mut b = small().bytes();
    b[16..24].copy_from_slice(&(1u64 << 60).to_le_bytes());
    assert!(open_err(&b).contains("metadata entries"));
}

#[test]
fn lying_string_and_array_lengths() {
    let mut g = GgufBuilder::new();
    let mut p = u64::MAX.to_le_bytes().to_vec();
    p.extend(b"x");
    g.kv_raw("k", ty::STRING, p);
    assert!(open_err(&g.bytes()).contains("truncated"));
    // A u8 array claiming 2^62 elements.
    let mut g = GgufBuilder::new();
    let mut p = 0u32.to_le_bytes().to_vec();
    p.extend((1u64 << 62).to_le_bytes());
    g.kv_raw("arr", ty::ARRAY, p);
    assert!(open_err(&g.bytes()).contains("does not fit"));
    // Arrays nested four deep.
    let mut g = GgufBuilder::new();
    let mut p = Vec::new();
    for _ in 0..4 {
        p.extend(ty::ARRAY.to_le_bytes());
        p.extend(1u64.to_le_bytes());
    }
    p.extend(0u32.to_le_bytes());
    p.extend(0u64.to_le_bytes());
    g.kv_raw("deep", ty::ARRAY, p);
    assert!(open_err(&g.bytes()).contains("nested"));
}

#[test]
fn bad_metadata_values() {
    let mut g = GgufBuilder::new();
    g.kv_raw("t", 77, vec![0; 8]);
    assert!(open_err(&g.bytes()).contains("unknown value type 77"));
    let mut g = GgufBuilder::new();
    g.kv_raw("b", ty::BOOL, vec![2]);
    assert!(open_err(&g.bytes()).contains("bool byte 2"));
    let mut g = GgufBuilder::new();
    g.u32("k", 1).u32("k", 2);
    assert!(open_err(&g.bytes()).contains("duplicate metadata key k"));
    let mut g = GgufBuilder::new();
    g.kv_raw("s", ty::STRING, gguf_string("ok").into_iter().take(8).chain([0xFF, 0xFE]).collect());
    assert!(open_err(&g.bytes()).contains("not valid UTF-8"));
    let mut g = small();
    g.u32("general.alignment", 24);
    assert!(open_err(&g.bytes()).contains("general.alignment"));
}

#[test]
fn lying_tensor_infos() {
    let base = small();
    let lay = base.layout();
    // Offset past the end of the data.
    let mut b = lay.bytes.clone();
    let f = lay.tensor_offset_fields[1];
    b[f..f + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    assert!(open_err(&b).contains("tensor b needs bytes"));
    // Offset that overflows when the size is added.
    let mut b = lay.bytes.clone();
    b[f..f + 8].copy_from_slice(&(u64::MAX - 31).to_le_bytes());
    assert!(open_err(&b).contains("tensor b"));
    // Misaligned offset.
    let mut b = lay.bytes.clone();
    b[f..f + 8].copy_from_slice(&4u64.to_le_bytes());
    assert!(open_err(&b).contains("alignment"));
    // Overlapping tensors.
    let mut b = lay.bytes.clone();
    b[f..f + 8].copy_from_slice(&0u64.to_le_bytes());
    assert!(open_err(&b).contains("overlap"));
    // Dimensions whose product overflows.
    let mut b = lay.bytes.clone();
    let d = lay.tensor_dim_fields[0];
    b[d..d + 8].copy_from_slice(&(1u64 << 62).to_le_bytes());
    b[d + 8..d + 16].copy_from_slice(&(1u64 << 62).to_le_bytes());
    assert!(open_err(&b).contains("overflows"));
    // Unknown and unsupported ggml types.
    let t = lay.tensor_type_fields[1];
    let mut b = lay.bytes.clone();
    b[t..t + 4].copy_from_slice(&200u32.to_le_bytes());
    let msg = open_err(&b);
    assert!(msg.contains("unsupported unknown ggml type id 200"), "{msg}");
    let mut b = lay.bytes.clone();
    b[t..t + 4].copy_from_slice(&16u32.to_le_bytes());
    assert!(open_err(&b).contains("IQ2_XXS"));
    // A row that is not a whole number of blocks.
    let mut g = GgufBuilder::new();
    g.tensor("q", &[48], 8, vec![0; 68]);
    assert!(open_err(&g.bytes()).contains("not a multiple of the Q8_0 block size 32"));
    // Five dimensions.
    let mut g = GgufBuilder::new();
    g.tensor_f32("five", &[1, 1, 1, 1, 1], &[0.0]);
    assert!(open_err(&g.bytes()).contains("5 dimensions"));
    // Duplicate tensor names.
    let mut g = GgufBuilder::new();
    g.tensor_f32("x", &[1], &[0.0]).tensor_f32("x", &[1], &[0.0]);
    assert!(open_err(&g.bytes()).contains("duplicate tensor name x"));
}

#[test]
fn cli_reports_hostile_files_in_one_line() {
    let dir = tempdir();
    let p = dir.path().join("trunc.gguf");
    let b = tiny_model("llama").bytes();
    std::fs::write(&p, &b[..b.len() - 100]).unwrap();
    let ps = p.to_str().unwrap();
    assert_clean_error(&quantize(&["inspect", ps]), &[ps, "truncated"]);
    let out = dir.path().join("out");
    assert_clean_error(&quantize(&["export", ps, out.to_str().unwrap()]), &[ps, "truncated"]);
    assert!(!out.exists(), "no output may be left behind");
    let missing = dir.path().join("missing.gguf");
    assert_clean_error(&quantize(&["inspect", missing.to_str().unwrap()]), &["missing.gguf", "No such file"]);
    let empty = dir.path().join("empty.gguf");
    std::fs::write(&empty, b"").unwrap();
    assert_clean_error(&quantize(&["inspect", empty.to_str().unwrap()]), &["empty.gguf"]);
}
