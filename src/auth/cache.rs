//! Users' refresh tokens on disk, so that a later run (or a token expiring mid-run) does not
//! ask them to sign in again. One JSON file in the user's cache folder: the folder is mode
//! 0700 and the file 0600 on Unix, and the file is replaced whole (written beside, then
//! renamed), so a reader never sees half of it. Apps keep nothing here: their credentials
//! are in the playbook's files and environment already.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::Secret;

/// The file's name in the cache folder.
const FILE: &str = "tokens.json";

/// Which sign-in a refresh token belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    /// The token endpoint (authority and tenant).
    pub token_url: String,
    /// The public client signed in through.
    pub client_id: String,
    /// The user, lower case.
    pub user: String,
}

impl Key {
    fn id(&self) -> String {
        format!("{} {} {}", self.token_url, self.client_id, self.user)
    }
}

#[derive(Default, Serialize, Deserialize)]
struct Stored {
    version: u32,
    entries: BTreeMap<String, Entry>,
}

/// What is written: always the current version.
#[derive(Serialize)]
struct StoredRef<'a> {
    version: u32,
    entries: &'a BTreeMap<String, Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    tenant: String,
    user: String,
    refresh_token: String,
    saved_at: u64,
}

/// A sign-in removed by [`TokenCache::logout`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Removed {
    /// The tenant.
    pub tenant: String,
    /// The user.
    pub user: String,
}

/// The token cache file.
#[derive(Debug)]
pub struct TokenCache {
    dir: PathBuf,
    /// One reader-modifier-writer at a time within the process.
    lock: Mutex<()>,
}

impl TokenCache {
    /// The cache in `dir`.
    pub fn at(dir: PathBuf) -> Self {
        TokenCache {
            dir,
            lock: Mutex::new(()),
        }
    }

    /// The cache in its usual place: `$TENANTRY_CACHE_DIR`, else the platform's cache folder
    /// (`$XDG_CACHE_HOME` or `~/.cache` on Linux, `~/Library/Caches` on macOS,
    /// `%LOCALAPPDATA%` on Windows) followed by `tenantry`.
    pub fn default_location() -> Option<PathBuf> {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        if let Some(dir) = var("TENANTRY_CACHE_DIR") {
            return Some(dir);
        }
        let base = if cfg!(windows) {
            var("LOCALAPPDATA")
        } else if cfg!(target_os = "macos") {
            var("HOME").map(|h| h.join("Library/Caches"))
        } else {
            var("XDG_CACHE_HOME").or_else(|| var("HOME").map(|h| h.join(".cache")))
        };
        base.map(|b| b.join("tenantry"))
    }

    /// The file.
    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// The refresh token kept for `key`.
    pub fn get(&self, key: &Key) -> Option<Secret> {
        let _guard = self.guard();
        self.load()
            .entries
            .get(&key.id())
            .map(|e| Secret::new(e.refresh_token.clone()))
    }

    /// Keeps `token` for `key` (in `tenant`).
    pub fn put(&self, key: &Key, tenant: &str, token: &Secret) -> io::Result<()> {
        let _guard = self.guard();
        let mut stored = self.load();
        stored.entries.insert(
            key.id(),
            Entry {
                tenant: tenant.to_string(),
                user: key.user.clone(),
                refresh_token: token.expose().to_string(),
                saved_at: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
            },
        );
        self.save(&stored)
    }

    /// Forgets `key`'s token (after the service refused it).
    pub fn remove(&self, key: &Key) {
        let _guard = self.guard();
        let mut stored = self.load();
        if stored.entries.remove(&key.id()).is_some() {
            let _ = self.save(&stored);
        }
    }

    /// Forgets every sign-in to `tenant` (by its organization, any case), or every sign-in.
    pub fn logout(&self, tenant: Option<&str>) -> io::Result<Vec<Removed>> {
        let _guard = self.guard();
        let mut stored = self.load();
        let mut removed = Vec::new();
        stored.entries.retain(|_, e| {
            let matches = tenant.is_none_or(|t| t.eq_ignore_ascii_case(&e.tenant));
            if matches {
                removed.push(Removed {
                    tenant: e.tenant.clone(),
                    user: e.user.clone(),
                });
            }
            !matches
        });
        if !removed.is_empty() {
            self.save(&stored)?;
        }
        Ok(removed)
    }

    fn guard(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The stored tokens; a missing or unreadable file holds none (the user signs in again).
    fn load(&self) -> Stored {
        std::fs::read(self.path())
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    fn save(&self, stored: &Stored) -> io::Result<()> {
        create_private_dir(&self.dir)?;
        let json = serde_json::to_vec_pretty(&StoredRef {
            version: 1,
            entries: &stored.entries,
        })
        .map_err(io::Error::other)?;
        let partial = self
            .dir
            .join(format!(".{FILE}.{}.partial", std::process::id()));
        let mut file = private_file(&partial)?;
        file.write_all(&json)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&partial, self.path())
    }
}

/// Creates `dir` (and its parents) and makes it readable by its owner only.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        // An existing folder keeps the mode it had: narrow it.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    {
        // On Windows the user's local app-data folder is private to them already.
        std::fs::create_dir_all(dir)
    }
}

/// A new file readable and writable by its owner only.
fn private_file(path: &Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(user: &str) -> Key {
        Key {
            token_url: "https://login.example/contoso.onmicrosoft.com/oauth2/v2.0/token".into(),
            client_id: "client".into(),
            user: user.into(),
        }
    }

    #[test]
    fn tokens_are_kept_per_sign_in_and_logout_forgets_a_tenant_or_all() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::at(dir.path().join("cache"));
        assert!(cache.get(&key("admin@contoso.com")).is_none());
        cache
            .put(
                &key("admin@contoso.com"),
                "contoso.onmicrosoft.com",
                &Secret::new("r1"),
            )
            .unwrap();
        cache
            .put(
                &key("reader@contoso.com"),
                "fabrikam.onmicrosoft.com",
                &Secret::new("r2"),
            )
            .unwrap();
        assert_eq!(cache.get(&key("admin@contoso.com")).unwrap().expose(), "r1");
        let removed = cache.logout(Some("CONTOSO.onmicrosoft.com")).unwrap();
        assert_eq!(removed.len(), 1);
        assert!(cache.get(&key("admin@contoso.com")).is_none());
        assert_eq!(cache.logout(None).unwrap().len(), 1);
        assert!(cache.get(&key("reader@contoso.com")).is_none());
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("cache");
        std::fs::create_dir(&folder).unwrap();
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).unwrap();
        let cache = TokenCache::at(folder.clone());
        cache
            .put(&key("admin@contoso.com"), "contoso", &Secret::new("r1"))
            .unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&folder), 0o700);
        assert_eq!(mode(&cache.path()), 0o600);
        let leftovers: Vec<_> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from(FILE)]);
    }

    #[test]
    fn a_damaged_file_holds_no_tokens_and_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::at(dir.path().to_path_buf());
        std::fs::write(cache.path(), "{ not json").unwrap();
        assert!(cache.get(&key("a")).is_none());
        cache.put(&key("a"), "t", &Secret::new("r")).unwrap();
        assert_eq!(cache.get(&key("a")).unwrap().expose(), "r");
    }
}
