//! Reading a `tokenizer.json` without building a JSON tree of its vocabulary and merges.
//!
//! Gemma-3's file is 33 MB with 262K tokens and 515K merges; as a `serde_json::Value` tree it
//! takes about 310 MiB. Here the two big members are read straight into flat lists (about a
//! tenth of that) and only the rest of the file (normalizer, pre-tokenizer, decoder,
//! post-processor, added tokens) becomes a tree. Anything that is not shaped as expected is
//! left in the tree, where the checks that name the problem find it.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// A `tokenizer.json`, its vocabulary and merges apart.
pub(crate) struct TokenizerFile {
    /// The file without `model.vocab` when that is an object and without `model.merges` when
    /// that is an array.
    pub tree: Value,
    /// `model.vocab` in file order: token and its id as written.
    pub vocab: Option<Vec<(String, Value)>>,
    /// `model.merges`.
    pub merges: Option<Vec<Merge>>,
}

/// One entry of `model.merges`.
pub(crate) enum Merge {
    /// `"a b"`.
    Joined(String),
    /// `["a", "b"]`.
    Pair(String, String),
    /// Anything else, kept to be named in the error.
    Other(Value),
}

type Members<'a> = BTreeMap<String, &'a RawValue>;

pub(crate) fn parse(text: &str) -> serde_json::Result<TokenizerFile> {
    let Ok(mut top) = serde_json::from_str::<Members>(text) else {
        return Ok(TokenizerFile { tree: serde_json::from_str(text)?, vocab: None, merges: None });
    };
    let (mut vocab, mut merges) = (None, None);
    let model = match top.remove("model") {
        None => None,
        Some(raw) => Some(match serde_json::from_str::<Members>(raw.get()) {
            Err(_) => serde_json::from_str(raw.get())?,
            Ok(mut members) => {
                if let Some(v) = members.get("vocab").filter(|v| starts_with(v, b'{')) {
                    vocab = Some(serde_json::from_str::<Vocab>(v.get())?.0);
                    members.remove("vocab");
                }
                if let Some(m) = members.get("merges").filter(|m| starts_with(m, b'[')) {
                    merges = Some(serde_json::from_str::<Vec<Merge>>(m.get())?);
                    members.remove("merges");
                }
                tree_of(members)?
            }
        }),
    };
    let mut tree = tree_of(top)?;
    if let (Some(model), Value::Object(o)) = (model, &mut tree) {
        o.insert("model".to_owned(), model);
    }
    Ok(TokenizerFile { tree, vocab, merges })
}

fn starts_with(raw: &RawValue, c: u8) -> bool {
    raw.get().trim_start().as_bytes().first() == Some(&c)
}

fn tree_of(members: Members) -> serde_json::Result<Value> {
    let mut o = serde_json::Map::new();
    for (k, v) in members {
        o.insert(k, serde_json::from_str(v.get())?);
    }
    Ok(Value::Object(o))
}

/// A JSON object read as its entries in order.
struct Vocab(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Vocab {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vocab;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of token ids")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vocab, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    out.push(entry);
                }
                Ok(Vocab(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for Merge {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Merge;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a merge")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Merge, E> {
                Ok(Merge::Joined(s.to_owned()))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Merge, E> {
                Ok(Merge::Joined(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Merge, A::Error> {
                let mut items: Vec<Value> = Vec::with_capacity(2);
                while let Some(v) = seq.next_element::<Value>()? {
                    items.push(v);
                }
                Ok(match <[Value; 2]>::try_from(items) {
                    Ok([Value::String(a), Value::String(b)]) => Merge::Pair(a, b),
                    Ok(pair) => Merge::Other(Value::Array(pair.into())),
                    Err(items) => Merge::Other(Value::Array(items)),
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Merge, A::Error> {
                Value::deserialize(de::value::MapAccessDeserializer::new(map)).map(Merge::Other)
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Merge, E> {
                Ok(Merge::Other(Value::Bool(b)))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Merge, E> {
                Ok(Merge::Other(n.into()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Merge, E> {
                Ok(Merge::Other(n.into()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Merge, E> {
                Ok(Merge::Other(n.into()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Merge, E> {
                Ok(Merge::Other(Value::Null))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_big_members_are_taken_out_and_the_rest_kept() {
        let text = json!({
            "version": "1.0",
            "added_tokens": [{"id": 0, "content": "<s>"}],
            "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b", ["a", "b"], 3, ["x"]]},
        })
        .to_string();
        let f = parse(&text).unwrap();
        assert_eq!(f.tree["model"], json!({"type": "BPE"}));
        assert_eq!(f.tree["added_tokens"][0]["content"], "<s>");
        let vocab = f.vocab.unwrap();
        assert_eq!(
            vocab.iter().map(|(t, id)| (t.as_str(), id.as_u64().unwrap())).collect::<Vec<_>>(),
            [("a", 0), ("b", 1), ("ab", 2)]
        );
        let m = f.merges.unwrap();
        assert!(matches!(&m[0], Merge::Joined(s) if s == "a b"));
        assert!(matches!(&m[1], Merge::Pair(a, b) if a == "a" && b == "b"));
        assert!(matches!(&m[2], Merge::Other(v) if *v == json!(3)));
        assert!(matches!(&m[3], Merge::Other(v) if *v == json!(["x"])));
    }

    #[test]
    fn members_of_the_wrong_shape_stay_in_the_tree() {
        let f = parse(r#"{"model": {"vocab": [], "merges": {}}}"#).unwrap();
        assert!(f.vocab.is_none() && f.merges.is_none());
        assert_eq!(f.tree["model"], json!({"vocab": [], "merges": {}}));
        let f = parse(r#"{"model": []}"#).unwrap();
        assert_eq!(f.tree["model"], json!([]));
        let f = parse("[1]").unwrap();
        assert_eq!(f.tree, json!([1]));
        assert!(parse("{not json").is_err());
    }
}
