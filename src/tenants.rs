//! Multi-tenancy: each tenant has its own data (a key prefix in the same sled database),
//! tokens, quirk profile and fault plan. The default tenant is served at `/scim/v2`, the
//! others at `/tenants/{name}/scim/v2`. Tenants come from the config file or the admin API;
//! those created over the API are stored, so they survive a restart.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::auth::Authenticator;
use crate::clock::{Clock, IdSource};
use crate::faults::{FaultPlan, Faults};
use crate::service::profile::Profile;
use crate::service::{ScimService, ServiceConfig};
use crate::store::SledStore;

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
}

pub struct Tenant {
    pub name: String,
    pub service: Arc<ScimService>,
    pub auth: Arc<Authenticator>,
    pub faults: Arc<Faults>,
    pub profile: Profile,
}

/// Everything needed to open a tenant's service.
pub struct TenantFactory {
    pub db: sled::Db,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdSource>,
    pub base: ServiceConfig,
}

pub struct Tenants {
    factory: TenantFactory,
    map: RwLock<BTreeMap<String, Arc<Tenant>>>,
    definitions: sled::Tree,
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
    pub fn open(factory: TenantFactory, default: Arc<Tenant>, configured: &[TenantSpec]) -> anyhow::Result<Tenants> {
        let definitions = factory.db.open_tree("tenant_definitions")?;
        let tenants = Tenants { factory, map: RwLock::new(BTreeMap::new()), definitions };
        tenants.write().insert(DEFAULT_TENANT.to_string(), default);
        for spec in configured {
            tenants.install(&spec.name, spec).map_err(|e| anyhow::anyhow!("[[tenants]] {}: {e}", spec.name))?;
        }
        for entry in tenants.definitions.iter() {
            let (k, v) = entry?;
            let name = String::from_utf8_lossy(&k).to_string();
            let spec: TenantSpec = serde_json::from_slice(&v)?;
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

    pub fn get(&self, name: &str) -> Option<Arc<Tenant>> {
        self.read().get(name).cloned()
    }

    pub fn all(&self) -> Vec<Arc<Tenant>> {
        self.read().values().cloned().collect()
    }

    fn install(&self, name: &str, spec: &TenantSpec) -> Result<Arc<Tenant>, String> {
        check_name(name)?;
        if spec.tokens.is_empty() {
            return Err("a tenant needs at least one token".into());
        }
        let profile = match &spec.profile {
            Some(p) => p.parse::<Profile>()?,
            None => self.factory.base.profile,
        };
        let faults = spec.faults.clone().unwrap_or_default();
        faults.check()?;
        // Same data for the same name: the store is the tenant's key prefix.
        let store = SledStore::open(&self.factory.db, name).map_err(|e| e.to_string())?;
        let service = ScimService::new(
            Arc::new(store),
            Arc::clone(&self.factory.clock),
            Arc::clone(&self.factory.ids),
            ServiceConfig { profile, ..self.factory.base.clone() },
        );
        let auth = Authenticator::new(spec.tokens.iter().map(|t| t.as_str().into()).collect(), &Default::default())
            .map_err(|e| e.to_string())?;
        let tenant = Arc::new(Tenant {
            name: name.to_string(),
            service: Arc::new(service),
            auth: Arc::new(auth),
            faults: Arc::new(Faults::new(faults)),
            profile,
        });
        self.write().insert(name.to_string(), Arc::clone(&tenant));
        Ok(tenant)
    }

    /// Creates or reconfigures a tenant (its data stays) and stores its definition.
    pub fn put(&self, name: &str, spec: &TenantSpec) -> Result<Arc<Tenant>, String> {
        let tenant = self.install(name, spec)?;
        let stored = TenantSpec { name: String::new(), ..spec.clone() };
        let bytes = serde_json::to_vec(&stored).map_err(|e| e.to_string())?;
        self.definitions.insert(name.as_bytes(), bytes).map_err(|e| e.to_string())?;
        self.definitions.flush().map_err(|e| e.to_string())?;
        Ok(tenant)
    }
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
