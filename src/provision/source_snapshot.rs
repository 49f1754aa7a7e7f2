//! The cycle's copy of the source directory, on disk.
//!
//! A cycle needs random access to the whole source (managers and group members name other
//! objects) and one consistent view of it, even if the file changes meanwhile. Holding the
//! parsed source took 240 MB for 100k users, and even its text 37 MB, so each object's JSON
//! text goes to an unnamed temporary file (in `TMPDIR`, removed when the cycle drops it)
//! and the engine keeps only what the link table keeps anyway: each object's id, its
//! manager's id and where its text is (docs/perf.md).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::directory::{object_id, DirectoryError};

/// The temporary file behind one snapshot, read by position (so readers share no offset).
#[derive(Debug)]
struct SnapshotFile(File);

impl SnapshotFile {
    #[cfg(unix)]
    fn read_at(&self, buf: &mut [u8], at: u64) -> std::io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.0, buf, at)
    }

    #[cfg(windows)]
    fn read_at(&self, buf: &mut [u8], at: u64) -> std::io::Result<()> {
        let mut done = 0;
        while done < buf.len() {
            match std::os::windows::fs::FileExt::seek_read(&self.0, &mut buf[done..], at + done as u64)? {
                0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                n => done += n,
            }
        }
        Ok(())
    }
}

/// How much of the snapshot one sequential read takes.
const BLOCK_BYTES: u64 = 1 << 20;

/// One source object: the keys a cycle reads without parsing it, and where its text is.
#[derive(Debug, Clone)]
pub struct SourceEntry {
    id: Box<str>,
    manager: Option<Box<str>>,
    at: u64,
    len: u32,
    file: Arc<SnapshotFile>,
}

impl SourceEntry {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The `manager` objectId, when the object names one.
    pub fn manager(&self) -> Option<&str> {
        self.manager.as_deref()
    }

    /// The object's attributes, read back from the snapshot.
    pub fn parse(&self) -> Result<Map<String, Value>, DirectoryError> {
        let mut text = vec![0; self.len as usize];
        self.file.read_at(&mut text, self.at).map_err(|e| self.reread(e))?;
        self.parse_text(&text)
    }

    fn parse_text(&self, text: &[u8]) -> Result<Map<String, Value>, DirectoryError> {
        serde_json::from_slice(text).map_err(|e| self.reread(e.into()))
    }

    fn reread(&self, source: std::io::Error) -> DirectoryError {
        DirectoryError::Reread { id: self.id.to_string(), source }
    }

    fn end(&self) -> u64 {
        self.at + u64::from(self.len)
    }
}

/// Hands each entry's attributes to `visit`, in order, reading the snapshot a block at a
/// time: the plan reads every object, and one read per object cost a third of an
/// incremental cycle (docs/perf.md).
pub fn parse_each<'a, E: From<DirectoryError>>(
    entries: &'a [SourceEntry],
    mut visit: impl FnMut(&'a SourceEntry, Map<String, Value>) -> Result<(), E>,
) -> Result<(), E> {
    let mut block = Vec::new();
    let mut block_at = 0;
    for (i, entry) in entries.iter().enumerate() {
        let held = entry.at >= block_at && entry.end() <= block_at + block.len() as u64;
        if !held {
            // The run of entries that follow this one in the file, up to a block.
            let mut end = entry.end();
            for next in &entries[i + 1..] {
                if next.at != end || next.end() - entry.at > BLOCK_BYTES || !Arc::ptr_eq(&next.file, &entry.file) {
                    break;
                }
                end = next.end();
            }
            block.resize((end - entry.at) as usize, 0);
            block_at = entry.at;
            entry.file.read_at(&mut block, block_at).map_err(|e| entry.reread(e))?;
        }
        let start = (entry.at - block_at) as usize;
        let object = entry.parse_text(&block[start..start + entry.len as usize])?;
        visit(entry, object)?;
    }
    Ok(())
}

/// The `manager` value when it is a non-empty string.
pub fn manager_of(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Writes objects into a new snapshot, one at a time.
pub struct SnapshotWriter {
    out: BufWriter<File>,
    at: u64,
    file: Arc<SnapshotFile>,
}

impl SnapshotWriter {
    pub fn new() -> Result<SnapshotWriter, DirectoryError> {
        let file = tempfile::tempfile().map_err(snapshot_error)?;
        let reader = file.try_clone().map_err(snapshot_error)?;
        Ok(SnapshotWriter { out: BufWriter::new(file), at: 0, file: Arc::new(SnapshotFile(reader)) })
    }

    /// Adds one object given as its JSON text, with the two keys read from it.
    pub fn push_text(&mut self, id: &str, manager: Option<&str>, text: &str) -> Result<SourceEntry, DirectoryError> {
        let len = u32::try_from(text.len()).map_err(|_| DirectoryError::Invalid {
            path: format!("source object '{id}'"),
            message: format!("{} bytes is larger than one object may be (4 GiB)", text.len()),
        })?;
        self.out.write_all(text.as_bytes()).map_err(snapshot_error)?;
        let entry =
            SourceEntry { id: id.into(), manager: manager.map(Into::into), at: self.at, len, file: self.file.clone() };
        self.at += u64::from(len);
        Ok(entry)
    }

    /// Adds one object given as attributes.
    pub fn push(&mut self, object: &Map<String, Value>) -> Result<SourceEntry, DirectoryError> {
        // A map with string keys always serializes; the error is kept all the same.
        let text = serde_json::to_string(object).map_err(|e| DirectoryError::Invalid {
            path: format!("source object '{}'", object_id(object)),
            message: e.to_string(),
        })?;
        self.push_text(object_id(object), manager_of(object.get("manager")), &text)
    }

    /// Writes out what is buffered: the entries read from the file from here on.
    pub fn finish(self) -> Result<(), DirectoryError> {
        self.out.into_inner().map_err(|e| snapshot_error(e.into_error()))?;
        Ok(())
    }
}

fn snapshot_error(source: std::io::Error) -> DirectoryError {
    DirectoryError::Snapshot { dir: std::env::temp_dir().display().to_string(), source }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reading_in_blocks_gives_what_reading_each_object_gives() {
        let mut writer = SnapshotWriter::new().unwrap();
        let mut entries = Vec::new();
        for i in 0..3000 {
            // Sizes from a few bytes to past a whole block, so blocks split anywhere.
            let padding = if i == 1500 { "x".repeat(3 << 20) } else { "é".repeat(i % 97) };
            let object =
                json!({"objectId": format!("u{i}"), "manager": if i % 3 == 0 { "" } else { "boss" }, "p": padding});
            entries.push(writer.push(object.as_object().unwrap()).unwrap());
        }
        writer.finish().unwrap();
        let mut seen = 0;
        parse_each(&entries, |entry, object| {
            assert_eq!(object, entry.parse().unwrap(), "{}", entry.id());
            assert_eq!(object["objectId"], entry.id());
            assert_eq!(entry.manager().is_some(), object["manager"] == "boss");
            seen += 1;
            Ok::<_, DirectoryError>(())
        })
        .unwrap();
        assert_eq!(seen, 3000);
    }
}
