//! Whether a second destination's server checks every write itself, so that a copy need not read each object
//! back. Writes to S3 carry a CRC32C of their body (`x-amz-checksum-crc32c`), which a server that honours it
//! recomputes over what it received and refuses on a mismatch (`BadDigest`). Not every S3-compatible server
//! honours it, and nothing in its answer says whether it did, so the operator asks once per server and bucket:
//! it writes a small probe object whose body is changed after its checksum was taken. A server that refuses
//! it checks writes; one that stores it does not (the probe is deleted again), and neither do OSS, COS (the
//! operator's client sends them no checksum) nor a file system — for those the copy reads every object back.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use opendal::{Buffer, HttpTransport, HttpTransporter, OperationContext, Operator};
use opendal_http_transport_reqwest::ReqwestTransport;

use super::{Location, Scheme};

/// How the copy of an object is known to hold the bytes sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteCheck {
    /// The server recomputed the checksum sent with each write and would have refused a mismatch.
    Server,
    /// The copy reads each object back and hashes it again.
    ReadBack,
}

/// Where the probe is written, beside the copies' manifests.
pub const PROBE: &str = ".obbackup/write-check";

/// How long an answer is remembered for a server and bucket.
const REMEMBERED: Duration = Duration::from_secs(3600);

/// How writes to `to` (opened on the destination `uri`) are checked, asking its server at most once an hour.
pub async fn write_check(uri: &str, to: &Operator) -> WriteCheck {
    let Ok(location) = Location::parse(uri) else {
        return WriteCheck::ReadBack;
    };
    if location.scheme != Scheme::S3 {
        return WriteCheck::ReadBack;
    }
    let server = format!("{} {}", location.endpoint(), location.bucket);
    if let Some(known) = remembered(&server) {
        return known;
    }
    let check = probe(to).await;
    tracing::info!(
        server = %server,
        ?check,
        "how the second destination's server checks writes"
    );
    ANSWERS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert(server, (check, Instant::now()));
    check
}

static ANSWERS: Mutex<Option<HashMap<String, (WriteCheck, Instant)>>> = Mutex::new(None);

fn remembered(server: &str) -> Option<WriteCheck> {
    let answers = ANSWERS.lock().unwrap_or_else(|p| p.into_inner());
    answers
        .as_ref()?
        .get(server)
        .filter(|(_, at)| at.elapsed() < REMEMBERED)
        .map(|(check, _)| *check)
}

/// Writes the probe with its body changed after the checksum was taken: refused with `BadDigest` by a server
/// that checks writes. Any other outcome — stored, or refused for another reason — means read back.
async fn probe(to: &Operator) -> WriteCheck {
    let corrupting = corrupting_writes(to.clone());
    match corrupting.write(PROBE, vec![0x5a_u8; 64]).await {
        Err(e) if e.to_string().contains("BadDigest") => WriteCheck::Server,
        Err(_) => WriteCheck::ReadBack,
        Ok(_) => {
            let _ = to.delete(PROBE).await;
            WriteCheck::ReadBack
        }
    }
}

/// `operator` with every body it PUTs changed in its last byte after the request was built (its checksum
/// header then no longer matches): what a flipped bit on the way looks like to the server.
pub fn corrupting_writes(operator: Operator) -> Operator {
    let transport = HttpTransporter::new(Corrupting(ReqwestTransport::default()));
    operator.with_context(OperationContext::new().with_http_transport(transport))
}

struct Corrupting(ReqwestTransport);

impl HttpTransport for Corrupting {
    async fn fetch(
        &self,
        request: http::Request<Buffer>,
    ) -> opendal::Result<http::Response<opendal::HttpBody>> {
        let (parts, body) = request.into_parts();
        let body = if parts.method == http::Method::PUT && !body.is_empty() {
            let mut bytes = body.to_vec();
            if let Some(last) = bytes.last_mut() {
                *last ^= 0xff;
            }
            Buffer::from(bytes)
        } else {
            body
        };
        self.0.fetch(http::Request::from_parts(parts, body)).await
    }
}
