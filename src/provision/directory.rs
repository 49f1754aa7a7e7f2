//! The source directory: users and groups with Entra-like attribute names
//! (`objectId`, `userPrincipalName`, `givenName`, `manager`, `accountEnabled`, …), read
//! from a JSON file or a folder of CSV files.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use thiserror::Error;

use super::source_snapshot::manager_of;
pub use super::source_snapshot::{parse_each, SnapshotWriter, SourceEntry};

#[derive(Debug, Error)]
pub enum DirectoryError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    /// An object did not read back from the cycle's snapshot (it was valid when written).
    #[error("source object '{id}' could not be read back from the cycle's snapshot: {source}")]
    Reread { id: String, source: std::io::Error },
    #[error("cannot write the cycle's snapshot of the source in {dir} (the temporary directory; set TMPDIR to another one): {source}")]
    Snapshot { dir: String, source: std::io::Error },
}

/// A snapshot of the source directory, indexed by objectId (cycles look users up by id for
/// every manager and member, so a scan per lookup would be quadratic).
#[derive(Debug, Clone, Default)]
pub struct Directory {
    users: Vec<SourceEntry>,
    groups: Vec<SourceEntry>,
    user_index: HashMap<Box<str>, usize>,
}

pub fn object_id(o: &Map<String, Value>) -> &str {
    o.get("objectId").and_then(Value::as_str).unwrap_or("")
}

pub fn display_name(o: &Map<String, Value>) -> String {
    ["displayName", "userPrincipalName", "objectId"]
        .iter()
        .find_map(|k| o.get(*k).and_then(Value::as_str))
        .unwrap_or("")
        .to_string()
}

impl Directory {
    pub fn new(users: Vec<Map<String, Value>>, groups: Vec<Map<String, Value>>) -> Result<Directory, DirectoryError> {
        let mut snapshot = SnapshotWriter::new()?;
        let users = users.iter().map(|u| snapshot.push(u)).collect::<Result<_, _>>()?;
        let groups = groups.iter().map(|g| snapshot.push(g)).collect::<Result<_, _>>()?;
        Directory::from_snapshot(snapshot, users, groups)
    }

    /// The directory of the entries `snapshot` wrote.
    pub fn from_snapshot(
        snapshot: SnapshotWriter,
        users: Vec<SourceEntry>,
        groups: Vec<SourceEntry>,
    ) -> Result<Directory, DirectoryError> {
        snapshot.finish()?;
        Ok(Directory::from_entries(users, groups))
    }

    fn from_entries(users: Vec<SourceEntry>, groups: Vec<SourceEntry>) -> Directory {
        let user_index = users.iter().enumerate().map(|(i, u)| (Box::from(u.id()), i)).collect();
        Directory { users, groups, user_index }
    }

    /// Reads `directory.json` (`{"users": [...], "groups": [...]}`) or a folder containing
    /// `users.csv`, `groups.csv` and `memberships.csv` (`groupId,memberId`).
    pub fn load(path: &Path) -> Result<Directory, DirectoryError> {
        let dir = if path.is_dir() { load_csv(path)? } else { load_json(path)? };
        dir.check(path)?;
        Ok(dir)
    }

    fn check(&self, path: &Path) -> Result<(), DirectoryError> {
        let mut seen = HashMap::with_capacity(self.users.len() + self.groups.len());
        for (kind, list) in [("user", &self.users), ("group", &self.groups)] {
            for (i, o) in list.iter().enumerate() {
                let id = o.id();
                if id.is_empty() {
                    let name = o.parse().map(|o| display_name(&o)).unwrap_or_default();
                    return Err(DirectoryError::Invalid {
                        path: path.display().to_string(),
                        message: format!("{kind} #{} ({name}) has no objectId", i + 1),
                    });
                }
                if let Some(previous) = seen.insert(id, kind) {
                    return Err(DirectoryError::Invalid {
                        path: path.display().to_string(),
                        message: format!("objectId '{id}' is used twice (a {previous} and a {kind})"),
                    });
                }
            }
        }
        Ok(())
    }

    pub fn users(&self) -> &[SourceEntry] {
        &self.users
    }

    pub fn groups(&self) -> &[SourceEntry] {
        &self.groups
    }

    pub fn user(&self, id: &str) -> Option<&SourceEntry> {
        self.user_index.get(id).and_then(|&i| self.users.get(i))
    }

    /// Finds a user by objectId, userPrincipalName or mail (case-insensitive).
    pub fn find_user(&self, key: &str) -> Result<Option<Map<String, Value>>, DirectoryError> {
        if let Some(user) = self.user(key) {
            return user.parse().map(Some);
        }
        find(&self.users, |u| {
            ["userPrincipalName", "mail"]
                .iter()
                .any(|k| u.get(*k).and_then(Value::as_str).is_some_and(|v| v.eq_ignore_ascii_case(key)))
        })
    }

    /// Finds a group by objectId or displayName.
    pub fn find_group(&self, key: &str) -> Result<Option<Map<String, Value>>, DirectoryError> {
        find(&self.groups, |g| {
            object_id(g) == key
                || g.get("displayName").and_then(Value::as_str).is_some_and(|v| v.eq_ignore_ascii_case(key))
        })
    }

    /// Direct member objectIds of a group.
    pub fn members(group: &Map<String, Value>) -> Vec<String> {
        group
            .get("members")
            .and_then(Value::as_array)
            .map(|m| m.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }
}

/// Finds the first object `matches` accepts, parsing one object at a time.
fn find(
    objects: &[SourceEntry],
    matches: impl Fn(&Map<String, Value>) -> bool,
) -> Result<Option<Map<String, Value>>, DirectoryError> {
    for entry in objects {
        let object = entry.parse()?;
        if matches(&object) {
            return Ok(Some(object));
        }
    }
    Ok(None)
}

/// The keys read from each object at load; the rest of it stays text.
#[derive(serde::Deserialize)]
struct Head {
    #[serde(rename = "objectId")]
    object_id: Option<Value>,
    manager: Option<Value>,
}

/// The file's top level: the two lists, each item kept as its text.
#[derive(serde::Deserialize)]
struct RawDirectory<'a> {
    #[serde(borrow)]
    users: Option<&'a RawValue>,
    #[serde(borrow)]
    groups: Option<&'a RawValue>,
}

fn load_json(path: &Path) -> Result<Directory, DirectoryError> {
    let invalid = |message: String| DirectoryError::Invalid { path: path.display().to_string(), message };
    let text = std::fs::read_to_string(path)
        .map_err(|source| DirectoryError::Read { path: path.display().to_string(), source })?;
    let raw: RawDirectory<'_> = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    let mut snapshot = SnapshotWriter::new()?;
    let mut list = |key: &str, list: Option<&RawValue>| -> Result<Vec<SourceEntry>, DirectoryError> {
        let Some(list) = list else { return Ok(Vec::new()) };
        let items: Vec<&RawValue> =
            serde_json::from_str(list.get()).map_err(|_| invalid(format!("'{key}' must be an array")))?;
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                let head: Head = serde_json::from_str(item.get())
                    .map_err(|e| invalid(format!("{key}[{i}] must be an object of attributes ({e})")))?;
                let id = head.object_id.as_ref().and_then(Value::as_str).unwrap_or_default();
                snapshot.push_text(id, manager_of(head.manager.as_ref()), item.get())
            })
            .collect()
    };
    let users = list("users", raw.users)?;
    let groups = list("groups", raw.groups)?;
    Directory::from_snapshot(snapshot, users, groups)
}

/// Each row of a CSV file as attributes, handed to `keep` as it is read.
fn read_csv<T>(path: &Path, mut keep: impl FnMut(Map<String, Value>) -> T) -> Result<Vec<T>, DirectoryError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let mut reader = csv::Reader::from_path(path)
        .map_err(|e| DirectoryError::Invalid { path: path.display().to_string(), message: e.to_string() })?;
    let headers = reader
        .headers()
        .map_err(|e| DirectoryError::Invalid { path: path.display().to_string(), message: e.to_string() })?
        .clone();
    let mut rows = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| DirectoryError::Invalid {
            path: path.display().to_string(),
            message: format!("line {}: {e}", line + 2),
        })?;
        let mut row = Map::new();
        for (h, v) in headers.iter().zip(record.iter()) {
            if v.is_empty() {
                continue;
            }
            let value = match v {
                "true" | "True" | "TRUE" => Value::Bool(true),
                "false" | "False" | "FALSE" => Value::Bool(false),
                _ if h == "proxyAddresses" || h == "appRoleAssignments" => {
                    Value::Array(v.split(';').map(|s| Value::String(s.trim().to_string())).collect())
                }
                _ => Value::String(v.to_string()),
            };
            row.insert(h.to_string(), value);
        }
        rows.push(keep(row));
    }
    Ok(rows)
}

fn load_csv(dir: &Path) -> Result<Directory, DirectoryError> {
    let mut snapshot = SnapshotWriter::new()?;
    let users = read_csv(&dir.join("users.csv"), |row| snapshot.push(&row))?.into_iter().collect::<Result<_, _>>()?;
    let mut groups = read_csv(&dir.join("groups.csv"), |row| row)?;
    let mut members: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (i, row) in read_csv(&dir.join("memberships.csv"), |row| row)?.into_iter().enumerate() {
        let (Some(g), Some(m)) =
            (row.get("groupId").and_then(Value::as_str), row.get("memberId").and_then(Value::as_str))
        else {
            return Err(DirectoryError::Invalid {
                path: dir.join("memberships.csv").display().to_string(),
                message: format!("line {}: needs groupId and memberId", i + 2),
            });
        };
        members.entry(g.to_string()).or_default().push(Value::String(m.to_string()));
    }
    for g in &mut groups {
        let id = object_id(g).to_string();
        g.insert("members".into(), Value::Array(members.remove(&id).unwrap_or_default()));
    }
    if let Some(unknown) = members.keys().next() {
        return Err(DirectoryError::Invalid {
            path: dir.join("memberships.csv").display().to_string(),
            message: format!("group '{unknown}' is not in groups.csv"),
        });
    }
    let groups = groups.iter().map(|g| snapshot.push(g)).collect::<Result<_, _>>()?;
    Directory::from_snapshot(snapshot, users, groups)
}
