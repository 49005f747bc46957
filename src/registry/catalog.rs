//! `GET /v2/_catalog`: the repositories a registry holds, following `Link` pagination
//! (distribution paginates the catalog, unlike its tag lists). Used by
//! `sealift audit --registry` to find what landed under a prefix.
//!
//! Registries may refuse the catalog (Docker Hub, most cloud registries) or need the
//! `registry:catalog:*` token scope; that refusal is reported as it came, with the host.
//! A registry configured with a smaller page than we ask for (distribution's
//! `catalog.maxentries`) refuses our `n` with 400 `PAGINATION_NUMBER_INVALID`: we ask again
//! without `n` and follow its own pages.

use reqwest::header::{HeaderMap, LINK};
use reqwest::Method;

use super::transport::{header_str, read_capped, Request};
use super::{next_link, Registry, RegistryError};

/// Largest catalog page read.
const MAX_CATALOG_PAGE_BYTES: usize = 16 * 1024 * 1024;
/// Most `Link` pages followed.
const MAX_CATALOG_PAGES: usize = 10_000;
/// Page size asked for (a registry may answer fewer or ignore it).
const PAGE_SIZE: u32 = 1000;

/// Whether `repo` lies under `prefix` (whole path components; an empty prefix is everything).
pub fn under_prefix(repo: &str, prefix: &str) -> bool {
    prefix.is_empty() || repo == prefix || repo.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'))
}

impl Registry {
    /// Every repository name the registry lists, in the registry's order.
    pub async fn list_repositories(&self) -> Result<Vec<String>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct Catalog {
            #[serde(default)]
            repositories: Option<Vec<String>>,
        }
        let what = format!("repository catalog of {}", self.host());
        let mut url = self.t().url("/v2/_catalog");
        url.set_query(Some(&format!("n={PAGE_SIZE}")));
        let mut repos = Vec::new();
        let mut asked_size = true;
        for _ in 0..MAX_CATALOG_PAGES {
            let req = Request {
                method: Method::GET,
                url,
                headers: HeaderMap::new(),
                body: None,
                scope: "registry:catalog:*".to_owned(),
                repo: None,
                deadline: Some(self.t().timeout),
            };
            let resp = self.t().send(req).await?;
            if !resp.status().is_success() {
                let e = self.t().error_for(resp, &Method::GET, None, &what).await;
                // distribution refuses an `n` above its `catalog.maxentries` (400
                // PAGINATION_NUMBER_INVALID): ask again without one, in its own page size.
                if asked_size
                    && matches!(&e, RegistryError::Http { status: 400, code: Some(c), .. } if c == "PAGINATION_NUMBER_INVALID")
                {
                    asked_size = false;
                    url = self.t().url("/v2/_catalog");
                    continue;
                }
                return Err(e);
            }
            asked_size = false;
            let next =
                header_str(resp.headers(), LINK.as_str()).and_then(next_link).and_then(|l| self.t().base.join(&l).ok());
            let body = read_capped(resp, MAX_CATALOG_PAGE_BYTES, || what.clone(), self.host()).await?;
            let page: Catalog = serde_json::from_slice(&body).map_err(|e| RegistryError::Protocol {
                host: self.host().to_owned(),
                what: format!("repository catalog is not valid JSON: {e}"),
            })?;
            let page = page.repositories.unwrap_or_default();
            let empty = page.is_empty();
            repos.extend(page);
            match next {
                // A registry that keeps sending a next link with empty pages would loop.
                Some(n) if !empty => url = n,
                _ => return Ok(repos),
            }
        }
        Err(RegistryError::TooLarge { what, limit: MAX_CATALOG_PAGES as u64 })
    }
}

#[cfg(test)]
mod tests {
    use super::super::next_link;

    #[test]
    fn catalog_link_is_followed() {
        assert_eq!(
            next_link(r#"</v2/_catalog?last=team%2Fapp&n=2>; rel="next""#).as_deref(),
            Some("/v2/_catalog?last=team%2Fapp&n=2")
        );
    }
}
