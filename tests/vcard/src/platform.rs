//! The trussed side: the software platform with file-backed flash, and a dispatch that routes
//! the three trussed extensions opcard uses to their backends (trussed-auth-backend for PINs,
//! trussed-staging for wrap-key-to-file and chunked file I/O); everything else goes to the
//! trussed core (P-256 keys, ECDSA, files).

use std::path::Path;

use trussed::backend::BackendId;
use trussed::platform::Platform;
use trussed::serde_extensions::{ExtensionDispatch, ExtensionId, ExtensionImpl};
use trussed::service::ServiceResources;
use trussed::types::Context;
use trussed::virt::{self, StorageConfig, StoreConfig};
use trussed_auth::AuthExtension;
use trussed_auth_backend::{AuthBackend, AuthContext, FilesystemLayout};
use trussed_chunked::ChunkedExtension;
use trussed_core::api::{reply, request};
use trussed_core::types::{Bytes, Location};
use trussed_core::Error;
use trussed_staging::{StagingBackend, StagingContext};
use trussed_wrap_key_to_file::WrapKeyToFileExtension;

/// The custom backends, tried in this order before the core.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Auth,
    Staging,
}

const BACKENDS: &[BackendId<Backend>] = &[
    BackendId::Custom(Backend::Auth),
    BackendId::Custom(Backend::Staging),
    BackendId::Core,
];

/// Extension ids as the client encodes them (any distinct numbers will do: both ends are here).
#[derive(Debug, Clone, Copy)]
pub enum Extension {
    Auth = 1,
    WrapKeyToFile = 2,
    Chunked = 3,
}

impl From<Extension> for u8 {
    fn from(e: Extension) -> u8 {
        e as u8
    }
}

impl TryFrom<u8> for Extension {
    type Error = Error;
    fn try_from(id: u8) -> Result<Self, Error> {
        match id {
            1 => Ok(Extension::Auth),
            2 => Ok(Extension::WrapKeyToFile),
            3 => Ok(Extension::Chunked),
            _ => Err(Error::RequestNotAvailable),
        }
    }
}

impl ExtensionId<AuthExtension> for Dispatch {
    type Id = Extension;
    const ID: Extension = Extension::Auth;
}

impl ExtensionId<WrapKeyToFileExtension> for Dispatch {
    type Id = Extension;
    const ID: Extension = Extension::WrapKeyToFile;
}

impl ExtensionId<ChunkedExtension> for Dispatch {
    type Id = Extension;
    const ID: Extension = Extension::Chunked;
}

pub struct Dispatch {
    auth: AuthBackend,
    staging: StagingBackend,
}

#[derive(Default)]
pub struct DispatchContext {
    auth: AuthContext,
    staging: StagingContext,
}

impl ExtensionDispatch for Dispatch {
    type BackendId = Backend;
    type Context = DispatchContext;
    type ExtensionId = Extension;

    fn extension_request<P: Platform>(
        &mut self,
        backend: &Backend,
        extension: &Extension,
        ctx: &mut Context<DispatchContext>,
        request: &request::SerdeExtension,
        resources: &mut ServiceResources<P>,
    ) -> Result<reply::SerdeExtension, Error> {
        let core = &mut ctx.core;
        match (backend, extension) {
            (Backend::Auth, Extension::Auth) => {
                <AuthBackend as ExtensionImpl<AuthExtension>>::extension_request_serialized(
                    &mut self.auth,
                    core,
                    &mut ctx.backends.auth,
                    request,
                    resources,
                )
            }
            (Backend::Staging, Extension::WrapKeyToFile) => <StagingBackend as ExtensionImpl<
                WrapKeyToFileExtension,
            >>::extension_request_serialized(
                &mut self.staging,
                core,
                &mut ctx.backends.staging,
                request,
                resources,
            ),
            (Backend::Staging, Extension::Chunked) => {
                <StagingBackend as ExtensionImpl<ChunkedExtension>>::extension_request_serialized(
                    &mut self.staging,
                    core,
                    &mut ctx.backends.staging,
                    request,
                    resources,
                )
            }
            _ => Err(Error::RequestNotAvailable),
        }
    }
}

/// The trussed client opcard runs on.
pub type Client<'a> = virt::Client<'a, Dispatch>;

/// Runs `f` with an opcard whose flash lives in `state` (internal.bin and external.bin, 64 KiB
/// littlefs images each, created and formatted on first use; volatile storage is RAM).
pub fn with_card<R>(
    state: &Path,
    options: opcard::Options,
    f: impl FnOnce(opcard::Card<Client<'_>>) -> R,
) -> R {
    let store = StoreConfig {
        internal: StorageConfig::filesystem(state.join("internal.bin")),
        external: StorageConfig::filesystem(state.join("external.bin")),
        volatile: StorageConfig::ram(),
    };
    // The PIN hashing key material: fixed, like everything about this test card.
    let dispatch = Dispatch {
        auth: AuthBackend::with_hw_key(
            Location::Internal,
            Bytes::from(b"tokenconfirm test card"),
            FilesystemLayout::V0,
        ),
        staging: StagingBackend::new(),
    };
    virt::with_platform(store, |platform| {
        platform.run_client_with_backends("opcard", dispatch, BACKENDS, |client| {
            f(opcard::Card::new(client, options))
        })
    })
}
