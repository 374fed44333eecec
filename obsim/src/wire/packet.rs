//! MySQL packet framing: a 3-byte little-endian length, a sequence id, then the payload. Payloads of
//! 16 MiB − 1 or more continue in further packets.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};

const MAX_PAYLOAD: usize = 0xff_ffff;

type Reader = BufReader<Box<dyn AsyncRead + Unpin + Send>>;
type Writer = BufWriter<Box<dyn AsyncWrite + Unpin + Send>>;

/// Both directions of one client connection (plain TCP or TLS).
pub struct PacketStream {
    reader: Reader,
    writer: Writer,
    sequence: u8,
}

impl PacketStream {
    /// Frames a connection whose next packet has sequence id `sequence`.
    pub fn new<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
        stream: S,
        sequence: u8,
    ) -> Self {
        let (read, write) = tokio::io::split(stream);
        Self {
            reader: BufReader::new(Box::new(read)),
            writer: BufWriter::new(Box::new(write)),
            sequence,
        }
    }

    /// Reads one logical packet; `None` when the client closed the connection.
    pub async fn read(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let mut payload = Vec::new();
        loop {
            let mut header = [0u8; 4];
            match self.reader.read_exact(&mut header).await {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && payload.is_empty() => {
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
            let length =
                usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
            self.sequence = header[3].wrapping_add(1);
            let start = payload.len();
            payload.resize(start + length, 0);
            self.reader.read_exact(&mut payload[start..]).await?;
            if length < MAX_PAYLOAD {
                return Ok(Some(payload));
            }
        }
    }

    /// Queues one logical packet (split as needed) with the next sequence ids.
    pub async fn write(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let mut chunks = payload.chunks(MAX_PAYLOAD).peekable();
        if payload.is_empty() {
            return self.write_frame(&[]).await;
        }
        while let Some(chunk) = chunks.next() {
            self.write_frame(chunk).await?;
            if chunks.peek().is_none() && chunk.len() == MAX_PAYLOAD {
                self.write_frame(&[]).await?;
            }
        }
        Ok(())
    }

    async fn write_frame(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        let length = chunk.len().to_le_bytes();
        self.writer
            .write_all(&[length[0], length[1], length[2], self.sequence])
            .await?;
        self.writer.write_all(chunk).await?;
        self.sequence = self.sequence.wrapping_add(1);
        Ok(())
    }

    /// Sends everything queued.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush().await
    }

    /// Starts a new exchange (the server speaks first in the handshake).
    pub fn reset_sequence(&mut self) {
        self.sequence = 0;
    }
}

/// Writes one packet straight to a stream, unbuffered (the handshake, before TLS may start).
pub async fn write_raw<S: AsyncWrite + Unpin>(
    stream: &mut S,
    sequence: u8,
    payload: &[u8],
) -> std::io::Result<()> {
    let length = payload.len().to_le_bytes();
    stream
        .write_all(&[length[0], length[1], length[2], sequence])
        .await?;
    stream.write_all(payload).await?;
    stream.flush().await
}

/// Reads one packet straight from a stream, unbuffered, so that nothing after it is consumed (a client
/// starts TLS right after its SSL request). `None` when the client closed the connection.
pub async fn read_raw<S: AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; 4];
    match stream.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let length =
        usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
    let mut payload = vec![0; length];
    stream.read_exact(&mut payload).await?;
    Ok(Some(payload))
}
