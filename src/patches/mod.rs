//! Patches for old clients: the index of the patch directory (which file patches which build
//! and locale, its size and MD5). It is built by the I/O thread (`io_worker`), never on the loop.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

use crate::protocol::version::Build;

/// One patch file, as the client is told about it in CMD_XFER_INITIATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchFile {
    pub path: PathBuf,
    pub size: u64,
    pub md5: [u8; 16],
}

/// Patches by the build and locale they patch from (`<build><locale>.mpq`, e.g. `5464enUS.mpq`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchIndex {
    files: HashMap<(Build, [u8; 4]), PatchFile>,
}

#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error("cannot read patch directory {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read patch {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Parses `<build><locale>.mpq`: digits, then four ASCII letters (e.g. "enUS"), then ".mpq".
fn parse_name(name: &str) -> Option<(Build, [u8; 4])> {
    let stem = name
        .strip_suffix(".mpq")
        .or_else(|| name.strip_suffix(".MPQ"))?;
    let digits = stem.len().checked_sub(4)?;
    let (build, locale) = stem.split_at(digits);
    let build: u16 = build.parse().ok()?;
    let locale: [u8; 4] = locale.as_bytes().try_into().ok()?;
    locale
        .iter()
        .all(u8::is_ascii_alphabetic)
        .then_some((Build(build), locale))
}

/// The wire form of a locale: the text reversed ("enUS" → `SUne`), as in the challenge.
pub fn wire_locale(text: [u8; 4]) -> [u8; 4] {
    [text[3], text[2], text[1], text[0]]
}

fn md5_of(path: &Path) -> Result<(u64, [u8; 16]), PatchError> {
    let err = |source| PatchError::File {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(err)?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hasher.finalize().into()))
}

impl PatchIndex {
    /// Scans `dir` (blocking: the I/O thread calls this). A missing directory is an empty
    /// index, so servers without patches need not create it; files that do not follow the
    /// naming rule are skipped with a log line.
    pub fn build(dir: &Path) -> Result<PatchIndex, PatchError> {
        let mut index = PatchIndex::default();
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(index),
            Err(source) => {
                return Err(PatchError::Dir {
                    path: dir.to_path_buf(),
                    source,
                })
            }
        };
        for entry in entries {
            let entry = entry.map_err(|source| PatchError::Dir {
                path: dir.to_path_buf(),
                source,
            })?;
            let path = entry.path();
            let Some((build, locale)) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(parse_name)
            else {
                log::warn!(
                    "patches: skipping {}: not <build><locale>.mpq",
                    path.display()
                );
                continue;
            };
            if !path.is_file() {
                continue;
            }
            let (size, md5) = md5_of(&path)?;
            if size == 0 {
                log::warn!("patches: skipping {}: empty", path.display());
                continue;
            }
            log::info!(
                "patches: {} for build {build}, {size} bytes",
                path.display()
            );
            index
                .files
                .insert((build, wire_locale(locale)), PatchFile { path, size, md5 });
        }
        Ok(index)
    }

    /// The patch for a client of `build` whose challenge carried `locale` (wire order).
    pub fn find(&self, build: Build, locale: [u8; 4]) -> Option<&PatchFile> {
        self.files.get(&(build, locale))
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_build_locale_rule() {
        assert_eq!(parse_name("5464enUS.mpq"), Some((Build(5464), *b"enUS")));
        assert_eq!(parse_name("12213deDE.MPQ"), Some((Build(12213), *b"deDE")));
        assert_eq!(parse_name("enUS.mpq"), None);
        assert_eq!(parse_name("5464en1S.mpq"), None);
        assert_eq!(parse_name("5464enUS.zip"), None);
        assert_eq!(parse_name("99999enUS.mpq"), None);
    }

    #[test]
    fn the_index_has_size_and_md5_and_skips_strangers() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("5464enUS.mpq"), b"MPQ\x1a hello").unwrap();
        std::fs::write(dir.path().join("readme.txt"), b"x").unwrap();
        let index = PatchIndex::build(dir.path()).unwrap();
        assert_eq!(index.len(), 1);
        let p = index.find(Build(5464), *b"SUne").unwrap();
        assert_eq!(p.size, 10);
        // md5("MPQ\x1a hello")
        let expected: [u8; 16] = Md5::digest(b"MPQ\x1a hello").into();
        assert_eq!(p.md5, expected);
        assert!(index.find(Build(5464), *b"BGne").is_none());
        assert!(PatchIndex::build(&dir.path().join("missing"))
            .unwrap()
            .is_empty());
    }
}
