//! Multi-tenancy: each tenant has its own data (its own store, opened by the factory that
//! `startup` hands in), tokens, quirk profile and fault plan. The default tenant is served at `/scim/v2`, the
//! others at `/tenants/{name}/scim/v2`. Tenants come from the config file or the admin API;
//! those created over the API are stored, so they survive a restart.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::auth::{AuthConfigError, Authenticator};
use crate::faults::{FaultPlan, Faults};
use crate::service::profile::Profile;
use crate::service::seed::{SeedError, SeedFile};
use crate::service::ScimService;
use crate::store::{DefinitionStore, StoreError};

pub const DEFAULT_TENANT: &str = "default";

/// How a tenant is defined (config file `[[tenants]]` or `PUT /admin/tenants/{name}`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantSpec {
    /// Only in the config file; the admin API takes it from the path.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub tokens: Vec<String>,
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(default)]
    pub faults: Option<FaultPlan>,
    /// Seed files loaded when the tenant is installed and by `reset?seed=true`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seeds: Vec<std::path::PathBuf>,
}

pub struct Tenant {
    pub name: String,
    pub service: Arc<ScimService>,
    pub auth: Arc<Authenticator>,
    pub faults: Arc<Faults>,
    pub profile: Profile,
    /// The tenant's seed files, read and checked once.
    pub seeds: Arc<Vec<SeedFile>>,
}

/// Opens the service of a tenant (its own data, the same name always the same data) with
/// a profile; built by `startup`, the only place that knows the storage.
pub type ServiceFactory = Box<dyn Fn(&str, Profile) -> Result<ScimService, StoreError> + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("{0}")]
    Invalid(String),
    #[error("the tenant's tokens: {0}")]
    Auth(#[from] AuthConfigError),
    #[error("the tenant's storage: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error("the stored definition of tenant '{name}' does not decode: {source}")]
    Definition { name: String, source: serde_json::Error },
}

pub struct Tenants {
    open_service: ServiceFactory,
    default_profile: Profile,
    map: RwLock<BTreeMap<String, Arc<Tenant>>>,
    definitions: Box<dyn DefinitionStore>,
}

/// Tenant names become URL segments and storage prefixes.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name != DEFAULT_TENANT;
    if ok {
        Ok(())
    } else {
        Err(format!("tenant name '{name}' must be 1–64 letters, digits, '-' or '_' (and not '{DEFAULT_TENANT}')"))
    }
}

impl Tenants {
    /// The registry with the default tenant, the configured tenants and those stored by
    /// the admin API.
    pub fn open(
        open_service: ServiceFactory,
        definitions: Box<dyn DefinitionStore>,
        default: Arc<Tenant>,
        configured: &[TenantSpec],
    ) -> anyhow::Result<Tenants> {
        let default_profile = default.profile;
        let tenants = Tenants { open_service, default_profile, map: RwLock::new(BTreeMap::new()), definitions };
        tenants.write().insert(DEFAULT_TENANT.to_string(), default);
        for spec in configured {
            tenants.install(&spec.name, spec).map_err(|e| anyhow::anyhow!("[[tenants]] {}: {e}", spec.name))?;
        }
        for (name, bytes) in tenants.definitions.all()? {
            let spec: TenantSpec = serde_json::from_slice(&bytes)
                .map_err(|source| TenantError::Definition { name: name.clone(), source })?;
            if !tenants.read().contains_key(&name) {
                tenants.install(&name, &spec).map_err(|e| anyhow::anyhow!("stored tenant {name}: {e}"))?;
            }
        }
        Ok(tenants)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Tenant>>> {
        self.map.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<Tenant>>> {
        self.map.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The tenant, or one another replica created since this one started (its definition
    /// is in the shared store): it is installed here on first use.
    pub fn get(&self, name: &str) -> Option<Arc<Tenant>> {
        if let Some(tenant) = self.read().get(name).cloned() {
            return Some(tenant);
        }
        if check_name(name).is_err() {
            return None;
        }
        let bytes = match self.definitions.get(name) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return None,
            Err(e) => {
                tracing::error!(tenant = name, error = %e, "cannot read the tenant's definition");
                return None;
            }
        };
        let installed = serde_json::from_slice::<TenantSpec>(&bytes)
            .map_err(|source| TenantError::Definition { name: name.to_string(), source })
            .and_then(|spec| self.install(name, &spec));
        match installed {
            Ok(tenant) => Some(tenant),
            Err(e) => {
                tracing::error!(tenant = name, error = %e, "a stored tenant does not load");
                None
            }
        }
    }

    pub fn all(&self) -> Vec<Arc<Tenant>> {
        self.read().values().cloned().collect()
    }

    fn install(&self, name: &str, spec: &TenantSpec) -> Result<Arc<Tenant>, TenantError> {
        check_name(name).map_err(TenantError::Invalid)?;
        if spec.tokens.is_empty() || spec.tokens.iter().any(|t| t.trim().is_empty()) {
            return Err(TenantError::Invalid("a tenant needs at least one token, and no empty one".into()));
        }
        let profile = match &spec.profile {
            Some(p) => p.parse::<Profile>().map_err(TenantError::Invalid)?,
            None => self.default_profile,
        };
        let faults = spec.faults.clone().unwrap_or_default();
        faults.check().map_err(TenantError::Invalid)?;
        let seeds = read_seeds(&spec.seeds)?;
        let service = (self.open_service)(name, profile)?;
        let auth = Authenticator::new(spec.tokens.iter().map(|t| t.as_str().into()).collect(), &Default::default())?;
        for (path, resources) in &seeds {
            let report = crate::service::seed::apply(&service, path, resources)?;
            tracing::info!(tenant = name, file = %path.display(), created = report.created, "seeded");
        }
        let tenant = Arc::new(Tenant {
            name: name.to_string(),
            service: Arc::new(service),
            auth: Arc::new(auth),
            faults: Arc::new(Faults::new(faults)),
            profile,
            seeds: Arc::new(seeds),
        });
        self.write().insert(name.to_string(), Arc::clone(&tenant));
        Ok(tenant)
    }

    /// Creates or reconfigures a tenant (its data stays) and stores its definition.
    pub fn put(&self, name: &str, spec: &TenantSpec) -> Result<Arc<Tenant>, TenantError> {
        let tenant = self.install(name, spec)?;
        let stored = TenantSpec { name: String::new(), ..spec.clone() };
        // A TenantSpec is plain data: it always serializes.
        let bytes =
            serde_json::to_vec(&stored).map_err(|source| TenantError::Definition { name: name.into(), source })?;
        self.definitions.put(name, &bytes)?;
        Ok(tenant)
    }
}

/// Reads and checks seed files; the first bad one refuses the whole set.
pub fn read_seeds(paths: &[std::path::PathBuf]) -> Result<Vec<SeedFile>, SeedError> {
    paths.iter().map(|path| Ok((path.clone(), crate::service::seed::read(path)?))).collect()
}

/// `/tenants/{name}/scim/v2/...` → `Some(name)`.
pub fn tenant_of_path(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/tenants/")?;
    let (name, rest) = rest.split_once('/')?;
    rest.starts_with("scim/v2").then_some(name)
}

/// The path below the SCIM root of whichever tenant: `/tenants/acme/scim/v2/Users/1` and
/// `/scim/v2/Users/1` both give `/Users/1` (fault rules are written against this).
pub fn path_under_scim_root(path: &str) -> &str {
    match path.strip_prefix("/tenants/").and_then(|r| r.split_once('/')) {
        Some((_, rest)) => rest.strip_prefix("scim/v2").unwrap_or(path),
        None => path.strip_prefix("/scim/v2").unwrap_or(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_names_and_paths() {
        assert_eq!(tenant_of_path("/tenants/acme/scim/v2/Users"), Some("acme"));
        assert_eq!(tenant_of_path("/scim/v2/Users"), None);
        assert_eq!(path_under_scim_root("/tenants/acme/scim/v2/Users/1"), "/Users/1");
        assert_eq!(path_under_scim_root("/scim/v2/Groups"), "/Groups");
        assert!(check_name("acme-1").is_ok());
        assert!(check_name("default").is_err());
        assert!(check_name("a/b").is_err());
        assert!(check_name("").is_err());
    }
}
