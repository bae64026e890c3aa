//! Native-messaging framing: 4-byte native-endian length, then that many bytes of UTF-8 JSON.

use tokenconfirm_wire::native::MAX_FRAME_BYTES;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Why no frame could be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The stream ended cleanly between frames.
    #[error("end of input")]
    Eof,
    /// The stream ended inside a length prefix or a body.
    #[error("input ended inside a frame ({got} of {expected} bytes)")]
    Truncated {
        /// Bytes received.
        got: usize,
        /// Bytes expected.
        expected: usize,
    },
    /// The declared length exceeds the cap.
    #[error("frame of {0} bytes exceeds the 1 MiB limit")]
    TooLarge(u64),
    /// The stream failed.
    #[error("read failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads bytes until `buf` is full or EOF; returns how many were read.
async fn read_full<R: AsyncRead + Unpin>(input: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]).await? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Reads one frame body. The body is never allocated beyond [`MAX_FRAME_BYTES`].
pub async fn read_frame<R: AsyncRead + Unpin>(input: &mut R) -> Result<Vec<u8>, FrameError> {
    let mut len = [0u8; 4];
    match read_full(input, &mut len).await? {
        0 => return Err(FrameError::Eof),
        4 => {}
        got => return Err(FrameError::Truncated { got, expected: 4 }),
    }
    let expected = u32::from_ne_bytes(len) as usize;
    if expected > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge(expected as u64));
    }
    let mut body = vec![0u8; expected];
    let got = read_full(input, &mut body).await?;
    if got != expected {
        return Err(FrameError::Truncated { got, expected });
    }
    Ok(body)
}

/// Writes one frame and flushes. The caller guarantees `body.len() <= MAX_FRAME_BYTES`.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    output: &mut W,
    body: &[u8],
) -> std::io::Result<()> {
    let len = u32::try_from(body.len()).map_err(|_| std::io::Error::other("frame too large"))?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&len.to_ne_bytes());
    frame.extend_from_slice(body);
    output.write_all(&frame).await?;
    output.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut f = (body.len() as u32).to_ne_bytes().to_vec();
        f.extend_from_slice(body);
        f
    }

    #[tokio::test]
    async fn reads_frames_and_eof() {
        let mut data = frame(b"{}");
        data.extend(frame(b"[1]"));
        let mut input = data.as_slice();
        assert_eq!(read_frame(&mut input).await.unwrap(), b"{}");
        assert_eq!(read_frame(&mut input).await.unwrap(), b"[1]");
        assert!(matches!(read_frame(&mut input).await, Err(FrameError::Eof)));
    }

    #[tokio::test]
    async fn truncated_and_oversize() {
        let mut short_len: &[u8] = &[1, 0];
        assert!(matches!(
            read_frame(&mut short_len).await,
            Err(FrameError::Truncated {
                got: 2,
                expected: 4
            })
        ));
        let data = frame(b"{\"id\":1}");
        let mut short_body = &data[..6];
        assert!(matches!(
            read_frame(&mut short_body).await,
            Err(FrameError::Truncated { got: 2, .. })
        ));
        let big = ((MAX_FRAME_BYTES + 1) as u32).to_ne_bytes();
        let mut oversize: &[u8] = &big;
        assert!(matches!(
            read_frame(&mut oversize).await,
            Err(FrameError::TooLarge(_))
        ));
        let huge = u32::MAX.to_ne_bytes();
        let mut huge: &[u8] = &huge;
        assert!(matches!(
            read_frame(&mut huge).await,
            Err(FrameError::TooLarge(_))
        ));
    }

    #[tokio::test]
    async fn writes_length_prefix() {
        let mut out = Vec::new();
        write_frame(&mut out, b"abc").await.unwrap();
        assert_eq!(out, frame(b"abc"));
    }
}
