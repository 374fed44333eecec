//! Where a destination URI really points, in one normal form, so that two spellings of one directory
//! compare equal and a directory inside another is seen as such: the storage's kind, its host and bucket
//! (which the stores compare without regard to case) and the path's segments (`.`, empty segments and a
//! trailing `/` removed; `..` resolved). Paths keep their case: every store this operator writes to tells
//! `Data` from `data`. The query is dropped except for what names the store (`host`, COS's `appid`).

use super::{Location, Scheme, StorageError};

/// A destination's directory in normal form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Place {
    scheme: Scheme,
    /// The host of an object store, in lower case, without `http(s)://` nor a trailing `/`.
    host: String,
    /// The bucket, in lower case (a COS bucket with its `-<appid>` suffix).
    bucket: String,
    segments: Vec<String>,
}

/// How two places lie to each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlap {
    /// The same directory.
    Same,
    /// The first holds the second.
    Contains,
    /// The first lies inside the second.
    Inside,
}

impl Overlap {
    /// In words, for a message: "<a> is <words> <b>".
    pub fn words(self) -> &'static str {
        match self {
            Overlap::Same => "the same directory as",
            Overlap::Contains => "a directory holding",
            Overlap::Inside => "inside",
        }
    }
}

impl Place {
    /// The normal form of `uri` (a destination as OceanBase takes it, without keys).
    pub fn of(uri: &str) -> Result<Self, StorageError> {
        let location = Location::parse(uri)?;
        let mut segments: Vec<String> = Vec::new();
        for segment in location.root.split('/') {
            match segment {
                "" | "." => {}
                ".." => {
                    if segments.pop().is_none() {
                        return Err(StorageError::Uri(format!(
                            "{uri}: its path leaves its root"
                        )));
                    }
                }
                other => segments.push(other.to_string()),
            }
        }
        let host = location.params.get("host").map_or("", String::as_str);
        let host = host
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_ascii_lowercase();
        let mut bucket = location.bucket.to_ascii_lowercase();
        if let (Scheme::Cos, Some(appid)) = (location.scheme, location.params.get("appid")) {
            let suffix = format!("-{}", appid.to_ascii_lowercase());
            if !bucket.ends_with(&suffix) {
                bucket.push_str(&suffix);
            }
        }
        Ok(Self {
            scheme: location.scheme,
            host,
            bucket,
            segments,
        })
    }

    /// How `self` lies to `other`, when they overlap at all.
    pub fn overlap(&self, other: &Place) -> Option<Overlap> {
        if (self.scheme, &self.host, &self.bucket) != (other.scheme, &other.host, &other.bucket) {
            return None;
        }
        let (mine, theirs) = (&self.segments, &other.segments);
        let shared = mine.iter().zip(theirs).take_while(|(a, b)| a == b).count();
        match (shared == mine.len(), shared == theirs.len()) {
            (true, true) => Some(Overlap::Same),
            (true, false) => Some(Overlap::Contains),
            (false, true) => Some(Overlap::Inside),
            (false, false) => None,
        }
    }
}

/// How the places of two URIs lie to each other; URIs that do not parse overlap nothing (they are refused
/// where they are used).
pub fn overlap(a: &str, b: &str) -> Option<Overlap> {
    Place::of(a).ok()?.overlap(&Place::of(b).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_directory_are_the_same_place() {
        for (a, b) in [
            ("file:///backup/t1/data", "file:///backup/t1/data/"),
            ("file:///backup/t1/data", "file:///backup//t1/./data//"),
            ("file:///backup/t1/data", "file:///backup/t1/x/../data"),
            (
                "s3://Bucket/ob/data?host=S3.example.com&s3_region=r",
                "s3://bucket/ob/data/?host=https://s3.example.com/",
            ),
            (
                "cos://b/p?host=cos.example.com&appid=125",
                "cos://b-125/p/?host=cos.example.com&appid=125",
            ),
        ] {
            assert_eq!(overlap(a, b), Some(Overlap::Same), "{a} ~ {b}");
        }
    }

    #[test]
    fn a_directory_inside_another_is_told_from_one_beside_it() {
        let data = "file:///backup/t1/data";
        assert_eq!(
            overlap(data, "file:///backup/t1/data/copy"),
            Some(Overlap::Contains)
        );
        assert_eq!(overlap("file:///backup", data), Some(Overlap::Contains));
        assert_eq!(
            overlap("file:///backup/t1/data/x/..//copy/", data),
            Some(Overlap::Inside)
        );
        for apart in [
            "file:///backup/t1/database",
            "file:///backup/t1/Data",
            "file:///backup/t2/data",
            "s3://backup/t1/data?host=h",
        ] {
            assert_eq!(overlap(data, apart), None, "{apart}");
        }
        // Another host or bucket is another store.
        assert_eq!(
            overlap("s3://b/ob?host=h1", "s3://b/ob?host=h2"),
            None,
            "hosts"
        );
        assert_eq!(overlap("s3://b1/ob?host=h", "s3://b2/ob?host=h"), None);
    }

    #[test]
    fn a_path_above_its_root_is_refused() {
        let error = Place::of("file:///backup/../../etc").expect_err("above the root");
        assert!(error.to_string().contains("leaves its root"), "{error}");
    }
}
