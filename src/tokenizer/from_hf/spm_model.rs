//! A SentencePiece `tokenizer.model` (the protobuf `ModelProto`) read as the `tokenizer.json`
//! that transformers' converter writes for it (a byte-fallback BPE whose merges follow the
//! pieces' scores), so that a directory with only `tokenizer.model` is read like one with both.
//! Only the fields a BPE SentencePiece model needs are read.

use crate::tokenizer::TokenizerError;
use serde_json::{json, Value};
use std::collections::HashMap;

const SPACE_MARK: &str = "\u{2581}";

/// SentencePiece's piece types.
mod piece_type {
    pub const UNKNOWN: u64 = 2;
    pub const CONTROL: u64 = 3;
    pub const USER_DEFINED: u64 = 4;
}

struct Piece {
    text: String,
    score: f32,
    kind: u64,
}

struct Proto {
    pieces: Vec<Piece>,
    /// trainer_spec.model_type: 1 unigram, 2 BPE.
    model_type: u64,
    byte_fallback: bool,
    add_dummy_prefix: bool,
}

fn bad(msg: &str) -> TokenizerError {
    TokenizerError(format!("tokenizer.model: {msg}"))
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], TokenizerError> {
    if b.len() < n {
        return Err(bad("truncated field"));
    }
    let (x, rest) = b.split_at(n);
    *b = rest;
    Ok(x)
}

/// Protobuf fields of one message: (field number, wire type, varint value or bytes).
fn fields(mut b: &[u8]) -> Result<Vec<(u64, u64, u64, &[u8])>, TokenizerError> {
    fn varint(b: &mut &[u8]) -> Result<u64, TokenizerError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = b.split_first().ok_or_else(|| bad("truncated varint"))?;
            *b = rest;
            v |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(bad("varint longer than 10 bytes"))
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = varint(&mut b)?;
        let (field, wire) = (key >> 3, key & 7);
        match wire {
            0 => {
                let v = varint(&mut b)?;
                out.push((field, wire, v, &[][..]));
            }
            1 => out.push((field, wire, 0, take(&mut b, 8)?)),
            2 => {
                let n = usize::try_from(varint(&mut b)?).map_err(|_| bad("length out of range"))?;
                out.push((field, wire, 0, take(&mut b, n)?));
            }
            5 => out.push((field, wire, 0, take(&mut b, 4)?)),
            w => return Err(bad(&format!("unsupported protobuf wire type {w}"))),
        }
    }
    Ok(out)
}

fn parse(bytes: &[u8]) -> Result<Proto, TokenizerError> {
    let mut p = Proto { pieces: Vec::new(), model_type: 1, byte_fallback: false, add_dummy_prefix: true };
    for (field, wire, _, data) in fields(bytes)? {
        match (field, wire) {
            (1, 2) => {
                let mut piece = Piece { text: String::new(), score: 0.0, kind: 1 };
                for (f, w, v, d) in fields(data)? {
                    match (f, w) {
                        (1, 2) => piece.text = String::from_utf8(d.to_vec()).map_err(|_| bad("piece is not UTF-8"))?,
                        (2, 5) => piece.score = f32::from_le_bytes(d.try_into().expect("4 bytes")),
                        (3, 0) => piece.kind = v,
                        _ => {}
                    }
                }
                p.pieces.push(piece);
            }
            (2, 2) => {
                for (f, w, v, _) in fields(data)? {
                    match (f, w) {
                        (3, 0) => p.model_type = v,
                        (35, 0) => p.byte_fallback = v != 0,
                        _ => {}
                    }
                }
            }
            (3, 2) => {
                for (f, w, v, _) in fields(data)? {
                    if (f, w) == (3, 0) {
                        p.add_dummy_prefix = v != 0;
                    }
                }
            }
            _ => {}
        }
    }
    if p.pieces.is_empty() {
        return Err(bad("no pieces (not a SentencePiece model)"));
    }
    Ok(p)
}

/// Merges of a BPE SentencePiece model as transformers' `SentencePieceExtractor` lists them:
/// every split of a piece into two pieces, ordered by the joined piece's score (highest first),
/// then by the lengths of the two parts.
fn merges(pieces: &[Piece]) -> Vec<(String, String)> {
    let index: HashMap<&str, usize> = pieces.iter().enumerate().map(|(i, p)| (p.text.as_str(), i)).collect();
    let mut out: Vec<(f32, usize, usize, usize, usize)> = Vec::new();
    for p in pieces {
        let cuts: Vec<usize> = p.text.char_indices().map(|(i, _)| i).skip(1).collect();
        let mut local: Vec<(usize, usize)> =
            cuts.iter().filter_map(|&c| Some((*index.get(&p.text[..c])?, *index.get(&p.text[c..])?))).collect();
        local.sort();
        out.extend(
            local
                .into_iter()
                .map(|(l, r)| (p.score, pieces[l].text.chars().count(), pieces[r].text.chars().count(), l, r)),
        );
    }
    out.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)).then(b.2.cmp(&a.2)));
    out.into_iter().map(|(_, _, _, l, r)| (pieces[l].text.clone(), pieces[r].text.clone())).collect()
}

/// The `tokenizer.json` of a SentencePiece model (`bytes` of `tokenizer.model`). `bos` is the
/// BOS token to prepend when the model adds one (from tokenizer_config.json).
pub fn tokenizer_json(bytes: &[u8], bos: Option<&str>) -> Result<Value, TokenizerError> {
    let p = parse(bytes)?;
    if p.model_type != 2 {
        return Err(bad(&format!(
            "SentencePiece model type {} (supported: BPE, type 2; unigram models need a tokenizer.json)",
            p.model_type
        )));
    }
    let vocab: serde_json::Map<String, Value> =
        p.pieces.iter().enumerate().map(|(i, x)| (x.text.clone(), json!(i))).collect();
    let unk = p.pieces.iter().find(|x| x.kind == piece_type::UNKNOWN).map(|x| x.text.clone());
    let added: Vec<Value> = p
        .pieces
        .iter()
        .enumerate()
        .filter(|(_, x)| matches!(x.kind, piece_type::UNKNOWN | piece_type::CONTROL | piece_type::USER_DEFINED))
        .map(|(i, x)| {
            json!({"id": i, "content": x.text, "single_word": false, "lstrip": false, "rstrip": false,
                   "normalized": false, "special": x.kind != piece_type::USER_DEFINED})
        })
        .collect();
    let replace = json!({"type": "Replace", "pattern": {"String": " "}, "content": SPACE_MARK});
    let normalizer = if p.add_dummy_prefix {
        json!({"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": SPACE_MARK}, replace]})
    } else {
        replace
    };
    let mut decoders = vec![json!({"type": "Replace", "pattern": {"String": SPACE_MARK}, "content": " "})];
    decoders.extend([json!({"type": "ByteFallback"}), json!({"type": "Fuse"})]);
    if p.add_dummy_prefix {
        decoders.push(json!({"type": "Strip", "content": " ", "start": 1, "stop": 0}));
    }
    let post = bos.and_then(|b| vocab.get(b).map(|id| (b, id.clone()))).map(|(b, id)| {
        json!({"type": "TemplateProcessing",
               "single": [{"SpecialToken": {"id": b, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
               "pair": [{"SpecialToken": {"id": b, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                        {"SpecialToken": {"id": b, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
               "special_tokens": {b: {"id": b, "ids": [id], "tokens": [b]}}})
    });
    let merges: Vec<Value> = merges(&p.pieces).into_iter().map(|(l, r)| json!([l, r])).collect();
    Ok(json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": normalizer,
        "pre_tokenizer": null,
        "post_processor": post,
        "decoder": {"type": "Sequence", "decoders": decoders},
        "model": {"type": "BPE", "dropout": null, "unk_token": unk, "continuing_subword_prefix": null,
                  "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": p.byte_fallback,
                  "ignore_merges": false, "vocab": vocab, "merges": merges},
    }))
}
