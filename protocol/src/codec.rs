//! Bounds-checked little-endian reading and writing of the wire's primitive encodings.
//!
//! Every read checks the remaining length first and names the field it was reading, so a
//! malformed body yields `WireError::UnexpectedEof { field, offset, need, have }` instead of a
//! panic. Counts are checked against the bytes that remain before anything is allocated for
//! them: a body can never make the decoder reserve more than its own size.
//!
//! Encodings (PROTOCOL.md §Encodings):
//! - integers: little-endian u8/u16/u32/u64/u128
//! - bool and option presence: one byte, 0 or 1; anything else is malformed
//! - string: u16 byte length, then UTF-8
//! - blob: u32 byte length, then raw bytes (decoded as a zero-copy `Bytes` slice)
//! - array: u32 item count, then the items

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, WireError};

/// A value with a wire encoding.
pub trait WireEncode {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError>;
}

/// A value that decodes from a body reader.
pub trait WireDecode: Sized {
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError>;
}

/// Reads primitives from a frame body. Blobs are returned as slices of the body's `Bytes`.
pub struct Reader<'a> {
    body: &'a Bytes,
    offset: usize,
}

impl<'a> Reader<'a> {
    pub fn new(body: &'a Bytes) -> Self {
        Reader { body, offset: 0 }
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn remaining(&self) -> usize {
        self.body.len().saturating_sub(self.offset)
    }

    /// Errors unless every byte of the body was read: trailing bytes would make two different
    /// byte strings decode to the same value.
    pub fn finish(&self) -> Result<(), WireError> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(WireError::TrailingBytes { offset: self.offset, extra }),
        }
    }

    fn take(&mut self, field: &'static str, need: usize) -> Result<&'a [u8], WireError> {
        let eof = WireError::UnexpectedEof { field, offset: self.offset, need, have: self.remaining() };
        let end = self.offset.checked_add(need).ok_or_else(|| eof.clone())?;
        let bytes: &'a [u8] = self.body.as_ref();
        let slice = bytes.get(self.offset..end).ok_or(eof)?;
        self.offset = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(field, N)?);
        Ok(out)
    }

    pub fn u8(&mut self, field: &'static str) -> Result<u8, WireError> {
        Ok(u8::from_le_bytes(self.array(field)?))
    }

    pub fn u16(&mut self, field: &'static str) -> Result<u16, WireError> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    pub fn u32(&mut self, field: &'static str) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    pub fn u64(&mut self, field: &'static str) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    pub fn u128(&mut self, field: &'static str) -> Result<u128, WireError> {
        Ok(u128::from_le_bytes(self.array(field)?))
    }

    /// A one-byte enum tag, mapped through `from`; undefined values are malformed.
    pub fn tag<T>(&mut self, field: &'static str, from: impl FnOnce(u8) -> Option<T>) -> Result<T, WireError> {
        let offset = self.offset;
        let value = self.u8(field)?;
        from(value).ok_or(WireError::InvalidValue { field, offset, value: u64::from(value) })
    }

    pub fn bool(&mut self, field: &'static str) -> Result<bool, WireError> {
        self.tag(field, |v| match v {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        })
    }

    /// An optional value: a presence byte (0 absent, 1 present), then the value if present.
    pub fn option<T>(
        &mut self,
        field: &'static str,
        read: impl FnOnce(&mut Self) -> Result<T, WireError>,
    ) -> Result<Option<T>, WireError> {
        if self.bool(field)? {
            Ok(Some(read(self)?))
        } else {
            Ok(None)
        }
    }

    pub fn opt_u32(&mut self, field: &'static str) -> Result<Option<u32>, WireError> {
        self.option(field, |r| r.u32(field))
    }

    pub fn opt_u64(&mut self, field: &'static str) -> Result<Option<u64>, WireError> {
        self.option(field, |r| r.u64(field))
    }

    pub fn opt_u128(&mut self, field: &'static str) -> Result<Option<u128>, WireError> {
        self.option(field, |r| r.u128(field))
    }

    pub fn opt_string(&mut self, field: &'static str) -> Result<Option<String>, WireError> {
        self.option(field, |r| r.string(field))
    }

    pub fn opt_blob(&mut self, field: &'static str) -> Result<Option<Bytes>, WireError> {
        self.option(field, |r| r.blob(field))
    }

    pub fn string(&mut self, field: &'static str) -> Result<String, WireError> {
        let len = usize::from(self.u16(field)?);
        let offset = self.offset;
        let bytes = self.take(field, len)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(WireError::InvalidUtf8 { field, offset }),
        }
    }

    /// A blob, returned without copying as a slice of the body.
    pub fn blob(&mut self, field: &'static str) -> Result<Bytes, WireError> {
        let len = self.u32(field)?;
        let len = usize::try_from(len).map_err(|_| WireError::UnexpectedEof {
            field,
            offset: self.offset,
            need: usize::MAX,
            have: self.remaining(),
        })?;
        let start = self.offset;
        self.take(field, len)?;
        Ok(self.body.slice(start..self.offset))
    }

    /// An array count. `item_size_bytes_min` is the smallest encoding of one item; a count that
    /// could not fit in what remains is refused here, before the caller allocates for it.
    pub fn count(&mut self, field: &'static str, item_size_bytes_min: usize) -> Result<usize, WireError> {
        assert!(item_size_bytes_min > 0, "every item takes at least one byte");
        let offset = self.offset;
        let count = self.u32(field)?;
        let have = self.remaining();
        let fits = usize::try_from(count)
            .ok()
            .and_then(|n| n.checked_mul(item_size_bytes_min))
            .is_some_and(|need| need <= have);
        if fits {
            Ok(count as usize)
        } else {
            Err(WireError::CountTooLarge { field, offset, count, have })
        }
    }

    /// A counted array of items.
    pub fn array_of<T>(
        &mut self,
        field: &'static str,
        item_size_bytes_min: usize,
        mut read: impl FnMut(&mut Self) -> Result<T, WireError>,
    ) -> Result<Vec<T>, WireError> {
        let count = self.count(field, item_size_bytes_min)?;
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(read(self)?);
        }
        Ok(items)
    }
}

/// One annotated span of an encoded frame: used to print PROTOCOL.md's byte-by-byte examples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub offset: usize,
    pub len: usize,
    pub field: &'static str,
    /// What the bytes are to the field: "" for its value, else e.g. "length" or "present".
    pub role: &'static str,
}

/// Appends primitives to a caller-owned buffer. Optionally records which field each byte
/// belongs to (only the documentation generator asks for that).
pub struct Writer<'a> {
    dst: &'a mut BytesMut,
    start: usize,
    notes: Option<Vec<Note>>,
}

impl<'a> Writer<'a> {
    pub fn new(dst: &'a mut BytesMut) -> Self {
        let start = dst.len();
        Writer { dst, start, notes: None }
    }

    pub fn annotated(dst: &'a mut BytesMut) -> Self {
        let start = dst.len();
        Writer { dst, start, notes: Some(Vec::new()) }
    }

    /// Bytes written since this writer was created.
    pub fn written(&self) -> usize {
        self.dst.len() - self.start
    }

    pub fn into_notes(self) -> Vec<Note> {
        self.notes.unwrap_or_default()
    }

    /// The bytes written so far, for patching a header after the body is known.
    pub(crate) fn written_mut(&mut self) -> &mut [u8] {
        let start = self.start;
        self.dst.get_mut(start..).unwrap_or_default()
    }

    /// Drops everything this writer wrote: a failed encode leaves the buffer as it found it.
    pub(crate) fn rollback(&mut self) {
        self.dst.truncate(self.start);
        if let Some(notes) = &mut self.notes {
            notes.clear();
        }
    }

    fn note(&mut self, field: &'static str, role: &'static str, len: usize) {
        let offset = self.written();
        if let Some(notes) = &mut self.notes {
            notes.push(Note { offset, len, field, role });
        }
    }

    pub fn u8(&mut self, field: &'static str, v: u8) {
        self.note(field, "", 1);
        self.dst.put_u8(v);
    }

    pub fn u16(&mut self, field: &'static str, v: u16) {
        self.note(field, "", 2);
        self.dst.put_u16_le(v);
    }

    pub fn u32(&mut self, field: &'static str, v: u32) {
        self.note(field, "", 4);
        self.dst.put_u32_le(v);
    }

    pub fn u64(&mut self, field: &'static str, v: u64) {
        self.note(field, "", 8);
        self.dst.put_u64_le(v);
    }

    pub fn u128(&mut self, field: &'static str, v: u128) {
        self.note(field, "", 16);
        self.dst.put_u128_le(v);
    }

    pub fn bool(&mut self, field: &'static str, v: bool) {
        self.u8(field, u8::from(v));
    }

    fn prefix_u16(&mut self, field: &'static str, role: &'static str, v: u16) {
        self.note(field, role, 2);
        self.dst.put_u16_le(v);
    }

    fn prefix_u32(&mut self, field: &'static str, role: &'static str, v: u32) {
        self.note(field, role, 4);
        self.dst.put_u32_le(v);
    }

    /// Writes the presence byte, then the value if there is one.
    pub fn option<T>(
        &mut self,
        field: &'static str,
        value: Option<&T>,
        write: impl FnOnce(&mut Self, &T) -> Result<(), EncodeError>,
    ) -> Result<(), EncodeError> {
        self.presence(field, value.is_some());
        match value {
            Some(v) => write(self, v),
            None => Ok(()),
        }
    }

    fn presence(&mut self, field: &'static str, present: bool) {
        self.note(field, "present", 1);
        self.dst.put_u8(u8::from(present));
    }

    pub fn opt_u32(&mut self, field: &'static str, value: Option<u32>) {
        self.presence(field, value.is_some());
        if let Some(v) = value {
            self.u32(field, v);
        }
    }

    pub fn opt_u64(&mut self, field: &'static str, value: Option<u64>) {
        self.presence(field, value.is_some());
        if let Some(v) = value {
            self.u64(field, v);
        }
    }

    pub fn opt_u128(&mut self, field: &'static str, value: Option<u128>) {
        self.presence(field, value.is_some());
        if let Some(v) = value {
            self.u128(field, v);
        }
    }

    pub fn opt_string(&mut self, field: &'static str, value: Option<&str>) -> Result<(), EncodeError> {
        self.presence(field, value.is_some());
        value.map_or(Ok(()), |v| self.string(field, v))
    }

    pub fn opt_blob(&mut self, field: &'static str, value: Option<&[u8]>) -> Result<(), EncodeError> {
        self.presence(field, value.is_some());
        value.map_or(Ok(()), |v| self.blob(field, v))
    }

    pub fn string(&mut self, field: &'static str, s: &str) -> Result<(), EncodeError> {
        let len = u16::try_from(s.len()).map_err(|_| EncodeError::TooLong {
            field,
            size_bytes: s.len(),
            max_bytes: usize::from(u16::MAX),
        })?;
        self.prefix_u16(field, "length", len);
        self.raw(field, "UTF-8", s.as_bytes());
        Ok(())
    }

    pub fn blob(&mut self, field: &'static str, b: &[u8]) -> Result<(), EncodeError> {
        let len = u32::try_from(b.len()).map_err(|_| EncodeError::TooLong {
            field,
            size_bytes: b.len(),
            max_bytes: u32::MAX as usize,
        })?;
        self.prefix_u32(field, "length", len);
        self.raw(field, "bytes", b);
        Ok(())
    }

    pub fn count(&mut self, field: &'static str, n: usize) -> Result<(), EncodeError> {
        let n32 = u32::try_from(n).map_err(|_| EncodeError::TooLong {
            field,
            size_bytes: n,
            max_bytes: u32::MAX as usize,
        })?;
        self.prefix_u32(field, "count", n32);
        Ok(())
    }

    /// A counted array of items.
    pub fn array_of<T>(
        &mut self,
        field: &'static str,
        items: &[T],
        mut write: impl FnMut(&mut Self, &T) -> Result<(), EncodeError>,
    ) -> Result<(), EncodeError> {
        self.count(field, items.len())?;
        items.iter().try_for_each(|item| write(self, item))
    }

    fn raw(&mut self, field: &'static str, role: &'static str, b: &[u8]) {
        if !b.is_empty() {
            self.note(field, role, b.len());
        }
        self.dst.put_slice(b);
    }
}
