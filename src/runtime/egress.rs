//! Where webhook delivery may connect (OWASP API7, SSRF): public addresses only, unless the
//! operator allows a host by name or address (`--webhook-allow`). Names are resolved by
//! this resolver at every connection, so a name that resolves elsewhere later (DNS
//! rebinding) is checked again; addresses written in a URL are checked before sending;
//! redirects are never followed (the client's policy).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The hosts (names or addresses) delivery may reach though they are not public.
#[derive(Clone, Debug, Default)]
pub struct Egress {
    allowed: Arc<Vec<String>>,
}

impl Egress {
    pub fn allowing(hosts: Vec<String>) -> Egress {
        Egress {
            allowed: Arc::new(hosts.into_iter().map(|h| h.to_ascii_lowercase()).collect()),
        }
    }

    fn allows(&self, host: &str) -> bool {
        self.allowed.iter().any(|h| h == &host.to_ascii_lowercase())
    }

    /// Whether `url` may be sent to as written (its host, if an address, is checked here;
    /// a name is checked when resolved).
    pub fn check_url(&self, url: &str) -> Result<(), String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
        let host = parsed.host_str().unwrap_or_default();
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        match bare.parse::<IpAddr>() {
            Ok(ip) if !is_public(ip) && !self.allows(bare) => Err(format!(
                "{host} is not a public address (allow it with --webhook-allow)"
            )),
            _ => Ok(()),
        }
    }
}

impl Resolve for Egress {
    fn resolve(&self, name: Name) -> Resolving {
        let egress = self.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed = egress.allows(&host);
            let usable: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| allowed || is_public(a.ip()))
                .collect();
            if usable.is_empty() {
                return Err(format!(
                    "{host} resolves to no public address (allow it with --webhook-allow)"
                )
                .into());
            }
            let addrs: Addrs = Box::new(usable.into_iter());
            Ok(addrs)
        })
    }
}

/// Whether an address is on the public internet: not loopback, private, link-local (cloud
/// metadata lives at 169.254.169.254), shared (CGNAT), unspecified, multicast, broadcast,
/// documentation, or their IPv6 kin (and IPv4 mapped into IPv6 is judged as IPv4).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public(IpAddr::V4(v4)),
            None => {
                let first = v6.segments()[0];
                !(v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || (first & 0xfe00) == 0xfc00
                    || (first & 0xffc0) == 0xfe80)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.9",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["1.1.1.1", "203.0.114.1", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn an_address_in_a_url_is_checked_and_the_allow_list_opens_it() {
        let strict = Egress::default();
        assert!(strict.check_url("http://127.0.0.1:8080/hook").is_err());
        assert!(strict.check_url("http://[::1]/hook").is_err());
        assert!(
            strict
                .check_url("http://169.254.169.254/latest/meta-data")
                .is_err()
        );
        assert!(strict.check_url("https://hooks.example.org/linli").is_ok());
        let open = Egress::allowing(vec!["127.0.0.1".into()]);
        assert!(open.check_url("http://127.0.0.1:8080/hook").is_ok());
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_unless_allowed() {
        let refused = Egress::default()
            .resolve("localhost".parse::<Name>().unwrap())
            .await;
        assert!(refused.is_err());
        let allowed = Egress::allowing(vec!["localhost".into()])
            .resolve("localhost".parse::<Name>().unwrap())
            .await;
        assert!(allowed.is_ok());
    }
}
