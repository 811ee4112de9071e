//! What to do about a sign-in that failed: one line per cause administrators meet, chosen by
//! Entra's AADSTS code (stable across languages, unlike its sentences).

/// Advice for a refusal whose description starts with `AADSTSnnnn:`.
pub fn advice_for(description: &str) -> Option<&'static str> {
    let code = aadsts(description)?;
    Some(match code {
        50076 | 50079 | 50074 => {
            " (this account must use multi-factor authentication: use `method: device_code`)"
        }
        50126 => " (check the user name and the password)",
        50034 => " (no such account in this tenant: check the user's UPN)",
        50057 => " (the account is disabled)",
        50053 => " (the account is locked after too many sign-ins: wait, or unlock it)",
        7000215 => {
            " (the client secret is wrong: give the secret's value, not its id, and check it is current)"
        }
        7000222 => " (the client secret has expired: create a new one in the app registration)",
        700027 => {
            " (the assertion's signature was not accepted: for a certificate, upload the current one to the app registration; for a federated token, check its issuer)"
        }
        700024 => " (check this machine's clock: it must be within 5 minutes of the real time)",
        70021 | 700212 | 700211 => {
            " (no federated credential of the app matches this token's issuer, subject and audience: add one to the app registration)"
        }
        700016 => {
            " (the app is not in this tenant: check the app id, or grant admin consent in this tenant)"
        }
        65001 | 650057 => " (admin consent is missing: grant it for the app in this tenant)",
        500011 => {
            " (Exchange Online is not known to this tenant at this address: check the tenant's cloud, and the scope of custom endpoints)"
        }
        53003 => {
            " (blocked by Conditional Access: ask the tenant's admins to allow this sign-in from here)"
        }
        7000218 => {
            " (the app allows no public client sign-in: keep the default client_id, or allow public client flows in the app registration)"
        }
        90002 | 900023 => " (no such tenant: check the tenant's organization and cloud)",
        700082 | 70043 | 50173 | 70008 => " (the saved sign-in has expired: sign in again)",
        70000 => " (the sign-in was declined or is no longer valid: sign in again)",
        _ => return None,
    })
}

/// The AADSTS number a description starts with.
pub fn aadsts(description: &str) -> Option<u32> {
    let rest = description.trim_start().strip_prefix("AADSTS")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_from_the_start_of_entra_descriptions() {
        assert_eq!(
            aadsts("AADSTS50076: Due to a configuration change"),
            Some(50076)
        );
        assert_eq!(aadsts("something else"), None);
        assert!(
            advice_for("AADSTS50076: Due to …")
                .unwrap()
                .contains("device_code")
        );
        assert!(
            advice_for("AADSTS700024: Client assertion …")
                .unwrap()
                .contains("clock")
        );
        assert_eq!(advice_for("AADSTS1: unknown"), None);
    }
}
