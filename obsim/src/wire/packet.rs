//! MySQL packet framing: a 3-byte little-endian length, a sequence id, then the payload. Payloads of
//! 16 MiB − 1 or more continue in further packets.

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{
    TcpStream,
    tcp::{OwnedReadHalf, OwnedWriteHalf},
};

const MAX_PAYLOAD: usize = 0xff_ffff;

/// Both directions of one client connection.
pub struct PacketStream {
    reader: BufReader<OwnedReadHalf>,
    writer: BufWriter<OwnedWriteHalf>,
    sequence: u8,
}

impl PacketStream {
    /// Frames a freshly accepted connection.
    pub fn new(stream: TcpStream) -> Self {
        let (read, write) = stream.into_split();
        Self {
            reader: BufReader::new(read),
            writer: BufWriter::new(write),
            sequence: 0,
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
