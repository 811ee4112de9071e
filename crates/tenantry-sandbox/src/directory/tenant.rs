//! The tenant a directory belongs to: its domains and where it lives in the service, which the
//! distinguished names and other derived values of its objects spell out.

/// The tenant: its domains and where it lives in the service.
#[derive(Clone, Debug)]
pub(crate) struct Tenant {
    /// The initial domain, e.g. `contoso.onmicrosoft.com`.
    pub(crate) domain: String,
    /// The vanity domain, e.g. `contoso.com`.
    pub(crate) vanity: String,
    /// The tenant id.
    pub(crate) id: String,
    /// The organization's display name, e.g. `Contoso`.
    pub(crate) display_name: String,
    /// The forest, e.g. `EURPR01A001`.
    pub(crate) forest: String,
    /// The domain controller errors name, e.g. `AM6PR01A001DC01.EURPR01A001.PROD.OUTLOOK.COM`.
    pub(crate) dc: String,
    /// Prefix of database names, e.g. `EURP195`.
    pub(crate) database_prefix: String,
    /// Prefix of mailbox server names, e.g. `AM6P195`.
    pub(crate) server_prefix: String,
}

impl Tenant {
    /// The distinguished name of a recipient named `name`.
    pub(crate) fn dn(&self, name: &str) -> String {
        format!(
            "CN={},OU={},OU=Microsoft Exchange Hosted Organizations,DC={},DC=PROD,DC=OUTLOOK,DC=COM",
            escape_rdn(name),
            self.domain,
            self.forest
        )
    }

    /// The distinguished name of the tenant's configuration container.
    pub(super) fn configuration_dn(&self) -> String {
        format!(
            "CN=Configuration,CN={},CN=ConfigurationUnits,DC={},DC=PROD,DC=OUTLOOK,DC=COM",
            self.domain, self.forest
        )
    }

    /// The tenant's OrganizationalUnitRoot.
    pub(super) fn ou_root(&self) -> String {
        format!(
            "{}.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/{}",
            self.forest, self.domain
        )
    }

    /// The tenant's OrganizationId.
    pub(super) fn organization_id(&self) -> String {
        format!(
            "{} - {}.PROD.OUTLOOK.COM/ConfigurationUnits/{}/Configuration",
            self.ou_root(),
            self.forest,
            self.domain
        )
    }
}

/// Escapes the characters a DN's relative name cannot hold as they are.
pub(super) fn escape_rdn(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, c) in name.chars().enumerate() {
        if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=') || (i == 0 && c == '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
