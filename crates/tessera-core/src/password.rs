//! Passwords: the pool's password policy, the generator for temporary passwords, and argon2id
//! hashing.
//!
//! The policy is read from the pool's `Policies.PasswordPolicy` document and checked in the
//! order Cognito reports violations, so that `InvalidPasswordException` names the same rule
//! a real pool would. Hashes are PHC strings, which carry their own parameters: raising the
//! configured cost later does not invalidate passwords stored under the old cost.

use std::sync::{Arc, Mutex};

use argon2::password_hash::{Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use serde_json::{Map, Value};

use crate::{CoreError, Random};

pub mod imported;

pub use imported::{ImportedHash, Pbkdf2Digest, UnreadableHash};

/// Every character Cognito counts as a symbol, space included.
const SYMBOLS: &str = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ";

/// The symbols the generator uses: a subset of [`SYMBOLS`] without the space (a password may
/// not begin or end with whitespace), quotes, backslash and the HTML-significant `<`, `>` and
/// `&`, because generated passwords are pasted from invitation e-mails and shells.
const GENERATED_SYMBOLS: &[u8] = b"!#$%*+-.=?@^_~";
const UPPERCASE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWERCASE: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const DIGITS: &[u8] = b"0123456789";

/// The length of a generated password when the policy asks for less.
const GENERATED_MIN_LEN: u32 = 12;

/// The longest password the service model accepts; generating a longer one would only
/// produce a password no client could ever send back.
const GENERATED_MAX_LEN: u32 = 256;

/// A pool's password policy, as Cognito's `Policies.PasswordPolicy` describes it.
///
/// Letters count as uppercase or lowercase only when they are ASCII (Cognito speaks of
/// "Latin" letters); any other character, for example `É` or `ß`, counts toward the length
/// and toward no class, so a password made of accented letters alone does not satisfy
/// `RequireUppercase` or `RequireLowercase`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// The fewest characters (Unicode scalar values) a password may have.
    pub minimum_length: u32,
    /// At least one ASCII uppercase letter.
    pub require_uppercase: bool,
    /// At least one ASCII lowercase letter.
    pub require_lowercase: bool,
    /// At least one ASCII digit.
    pub require_numbers: bool,
    /// At least one character of Cognito's symbol set (which includes the space).
    pub require_symbols: bool,
    /// How long a temporary password set by AdminCreateUser stays usable.
    pub temporary_password_validity_days: u32,
}

impl Default for PasswordPolicy {
    /// Cognito's policy for a pool that sets none.
    fn default() -> Self {
        Self {
            minimum_length: 8,
            require_uppercase: true,
            require_lowercase: true,
            require_numbers: true,
            require_symbols: true,
            temporary_password_validity_days: 7,
        }
    }
}

/// The first rule of the policy a password breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyViolation {
    /// Fewer characters than `MinimumLength`.
    TooShort,
    /// `RequireUppercase` and no ASCII uppercase letter.
    NoUppercase,
    /// `RequireLowercase` and no ASCII lowercase letter.
    NoLowercase,
    /// `RequireNumbers` and no ASCII digit.
    NoNumber,
    /// `RequireSymbols` and no character of the symbol set.
    NoSymbol,
}

impl PolicyViolation {
    /// The reason as Cognito words it, the suffix of an `InvalidPasswordException` message
    /// (the prefix differs between operations and is the caller's).
    pub fn reason(self) -> &'static str {
        match self {
            Self::TooShort => "Password not long enough",
            Self::NoUppercase => "Password must have uppercase characters",
            Self::NoLowercase => "Password must have lowercase characters",
            Self::NoNumber => "Password must have numeric characters",
            Self::NoSymbol => "Password must have symbol characters",
        }
    }
}

impl std::fmt::Display for PolicyViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.reason())
    }
}

impl PasswordPolicy {
    /// Reads `Policies.PasswordPolicy` of a pool settings document. Members that are missing
    /// or of the wrong JSON type fall back to Cognito's defaults (8 characters, all four
    /// classes required, temporary passwords valid for 7 days); a number too large for `u32`
    /// saturates rather than wrapping.
    pub fn from_pool_settings(settings: &Map<String, Value>) -> Self {
        let defaults = Self::default();
        let Some(policy) = settings
            .get("Policies")
            .and_then(|p| p.get("PasswordPolicy"))
            .and_then(Value::as_object)
        else {
            return defaults;
        };
        let number = |name: &str, default: u32| {
            policy
                .get(name)
                .and_then(Value::as_u64)
                .map_or(default, |n| u32::try_from(n).unwrap_or(u32::MAX))
        };
        let flag = |name: &str, default: bool| {
            policy.get(name).and_then(Value::as_bool).unwrap_or(default)
        };
        Self {
            minimum_length: number("MinimumLength", defaults.minimum_length),
            require_uppercase: flag("RequireUppercase", defaults.require_uppercase),
            require_lowercase: flag("RequireLowercase", defaults.require_lowercase),
            require_numbers: flag("RequireNumbers", defaults.require_numbers),
            require_symbols: flag("RequireSymbols", defaults.require_symbols),
            temporary_password_validity_days: number(
                "TemporaryPasswordValidityDays",
                defaults.temporary_password_validity_days,
            ),
        }
    }

    /// The first rule the password breaks, in Cognito's order: length, then uppercase,
    /// lowercase, numbers and symbols.
    pub fn check(&self, password: &str) -> Result<(), PolicyViolation> {
        // Counting stops as soon as the minimum is reached, so a huge input costs no more
        // than the policy needs.
        let minimum = usize::try_from(self.minimum_length).unwrap_or(usize::MAX);
        if minimum > 0 && password.chars().nth(minimum - 1).is_none() {
            return Err(PolicyViolation::TooShort);
        }
        let rules: [(bool, CharClass, PolicyViolation); 4] = [
            (
                self.require_uppercase,
                |c| c.is_ascii_uppercase(),
                PolicyViolation::NoUppercase,
            ),
            (
                self.require_lowercase,
                |c| c.is_ascii_lowercase(),
                PolicyViolation::NoLowercase,
            ),
            (
                self.require_numbers,
                |c| c.is_ascii_digit(),
                PolicyViolation::NoNumber,
            ),
            (self.require_symbols, is_symbol, PolicyViolation::NoSymbol),
        ];
        for (required, class, violation) in rules {
            if required && !password.chars().any(class) {
                return Err(violation);
            }
        }
        Ok(())
    }

    /// A random password that satisfies the policy, for AdminCreateUser without
    /// `TemporaryPassword`: `max(minimum_length, 12)` ASCII characters (at most 256, the
    /// longest password the service model accepts), with one character of each required
    /// class placed at a random position and the rest drawn from all four classes.
    pub fn generate(&self, random: &dyn Random) -> String {
        let length = self
            .minimum_length
            .clamp(GENERATED_MIN_LEN, GENERATED_MAX_LEN);
        let length = usize::try_from(length).unwrap_or(64);
        let mut chars: Vec<u8> = Vec::with_capacity(length);
        for (required, class) in [
            (self.require_uppercase, UPPERCASE),
            (self.require_lowercase, LOWERCASE),
            (self.require_numbers, DIGITS),
            (self.require_symbols, GENERATED_SYMBOLS),
        ] {
            if required {
                chars.push(pick(class, random));
            }
        }
        let all: Vec<u8> = [UPPERCASE, LOWERCASE, DIGITS, GENERATED_SYMBOLS].concat();
        while chars.len() < length {
            chars.push(pick(&all, random));
        }
        // Fisher–Yates, so that the required characters are not always at the front.
        for i in (1..chars.len()).rev() {
            chars.swap(i, uniform(i + 1, random));
        }
        chars.into_iter().map(char::from).collect()
    }
}

/// A test for one class of characters (uppercase, lowercase, digit or symbol).
type CharClass = fn(char) -> bool;

/// True for every character of Cognito's symbol set.
fn is_symbol(c: char) -> bool {
    SYMBOLS.contains(c)
}

/// One byte of `class`, uniformly at random.
fn pick(class: &[u8], random: &dyn Random) -> u8 {
    class
        .get(uniform(class.len(), random))
        .copied()
        .unwrap_or(b'x')
}

/// A number in `0..n` (0 when `n` is 0). Reducing 64 random bits modulo a number below 100
/// leaves a bias under 2^-57, far too small to matter, and unlike rejection sampling it
/// cannot loop for ever on a degenerate generator.
fn uniform(n: usize, random: &dyn Random) -> usize {
    let Ok(n64) = u64::try_from(n) else {
        return 0;
    };
    if n64 == 0 {
        return 0;
    }
    let mut bytes = [0u8; 8];
    random.fill(&mut bytes);
    usize::try_from(u64::from_le_bytes(bytes) % n64).unwrap_or(0)
}

/// The most memory (KiB), passes and lanes a stored hash may ask for when it asks for more
/// than this hasher's own parameters. A stored hash is trusted data, but a corrupted or
/// tampered row must not make a single sign-in allocate gigabytes.
const MAX_STORED_MEMORY_KIB: u32 = 256 * 1024;
const MAX_STORED_ITERATIONS: u32 = 16;
const MAX_STORED_PARALLELISM: u32 = 16;

/// argon2id password hashing with configurable cost; OWASP's recommendation
/// (m=19456 KiB, t=2, p=1) by default.
///
/// tessera writes only argon2id; other stored schemes are hashes imported from another system
/// ([`imported`]), verified once and then replaced.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    params: Params,
    /// A PHC string with this hasher's parameters, a fixed salt and an output no password
    /// is known to produce, for [`PasswordHasher::verify_dummy`].
    dummy: String,
    /// argon2's working memory, kept between hashes (shared by the clones of this hasher).
    memory: Arc<WorkingMemory>,
}

/// The working memory of finished hashes, kept for the next ones.
///
/// Each argon2id hash needs `m` KiB (19 MiB by default) of scratch memory. Allocating it
/// afresh for every hash made the server's resident memory grow to hundreds of megabytes
/// under load: glibc raises its mmap threshold after the first large free, so later blocks
/// of that size come from per-thread arenas, which fragment and are rarely returned to the
/// system. Reusing a few buffers keeps the memory at one buffer per concurrent hash. The
/// buffers are not cleared between hashes: argon2 overwrites every block in its first pass
/// before reading it.
#[derive(Debug)]
struct WorkingMemory {
    /// Buffers of `blocks` blocks, ready for reuse.
    free: Mutex<Vec<Vec<Block>>>,
    /// The size of the buffers kept (the configured cost); hashes stored under another cost
    /// get a buffer of their own, freed afterwards.
    blocks: usize,
    /// How many buffers are kept at most.
    keep: usize,
}

impl WorkingMemory {
    fn new(params: &Params) -> Self {
        Self {
            free: Mutex::new(Vec::new()),
            blocks: params.block_count(),
            // The server runs at most one hash per core, so more buffers would stay unused.
            keep: std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
        }
    }

    fn with_blocks<T>(&self, blocks: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
        let reused = if blocks == self.blocks {
            self.free.lock().unwrap_or_else(|p| p.into_inner()).pop()
        } else {
            None
        };
        let mut memory = reused.unwrap_or_else(|| vec![Block::default(); blocks]);
        let result = work(&mut memory);
        if blocks == self.blocks {
            let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
            if free.len() < self.keep {
                free.push(memory);
            }
        }
        result
    }
}

impl PasswordHasher {
    /// A hasher with the given cost. Fails when argon2 refuses the parameters (memory below
    /// 8 KiB per lane, no iterations, no lanes or more than 2^24 - 1).
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self, CoreError> {
        let params = Params::new(memory_kib, iterations, parallelism, None)
            .map_err(|_| CoreError::Crypto("argon2 parameters are out of range"))?;
        Ok(Self::with_params(params))
    }

    /// OWASP's recommended cost: 19 MiB, two passes, one lane.
    pub fn owasp() -> Self {
        // These are also the argon2 crate's defaults, so the fallback is the same value.
        Self::with_params(Params::new(19_456, 2, 1, None).unwrap_or_default())
    }

    fn with_params(params: Params) -> Self {
        // 22 and 43 characters of `A` are the unpadded Base64 of a 16-byte salt and a
        // 32-byte output of zeros, the sizes `hash` produces.
        let dummy = format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            params.m_cost(),
            params.t_cost(),
            params.p_cost(),
            "A".repeat(22),
            "A".repeat(43),
        );
        let memory = Arc::new(WorkingMemory::new(&params));
        Self {
            params,
            dummy,
            memory,
        }
    }

    /// The argon2 output of `password` and `salt` under `argon`, in reused working memory.
    fn output(
        &self,
        argon: &Argon2<'_>,
        params: &Params,
        password: &str,
        salt: Salt<'_>,
    ) -> Result<Output, argon2::password_hash::Error> {
        let mut salt_bytes = [0u8; 64];
        let salt = salt.decode_b64(&mut salt_bytes)?;
        let length = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        Output::init_with(length, |out| {
            self.memory.with_blocks(params.block_count(), |blocks| {
                argon.hash_password_into_with_memory(password.as_bytes(), salt, out, blocks)
            })?;
            Ok(())
        })
    }

    /// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) of `password` under
    /// a fresh 16-byte salt from `random`.
    pub fn hash(&self, password: &str, random: &dyn Random) -> Result<String, CoreError> {
        let failed = |_| CoreError::Crypto("argon2 hashing failed");
        let mut salt = [0u8; 16];
        random.fill(&mut salt);
        let salt = SaltString::encode_b64(&salt)
            .map_err(|_| CoreError::Crypto("argon2 salt encoding failed"))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone());
        let output = self
            .output(&argon, &self.params, password, salt.as_salt())
            .map_err(failed)?;
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params).map_err(failed)?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(hash.to_string())
    }

    /// True when `password` matches the stored PHC string, using the parameters embedded in
    /// it. The outputs are compared in constant time (`Output`'s equality). A malformed
    /// hash or a cost beyond the limits above is `false`. A hash in another scheme is one
    /// imported from another system and is checked as [`ImportedHash`] reads it.
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        if !phc.starts_with("$argon2id$") {
            // A hash imported from another system (see [`imported`]), checked once at the
            // user's first sign-in and then replaced.
            return ImportedHash::parse(phc).is_ok_and(|hash| hash.verify(password));
        }
        let Ok(hash) = PasswordHash::new(phc) else {
            return false;
        };
        if hash.algorithm != Algorithm::Argon2id.ident() {
            return false;
        }
        let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
            return false;
        };
        let Ok(version) = hash.version.map_or(Ok(Version::V0x13), Version::try_from) else {
            return false;
        };
        let Ok(params) = Params::try_from(&hash) else {
            return false;
        };
        if params.m_cost() > MAX_STORED_MEMORY_KIB.max(self.params.m_cost())
            || params.t_cost() > MAX_STORED_ITERATIONS.max(self.params.t_cost())
            || params.p_cost() > MAX_STORED_PARALLELISM.max(self.params.p_cost())
        {
            return false;
        }
        let argon = Argon2::new(Algorithm::Argon2id, version, params.clone());
        self.output(&argon, &params, password, salt)
            .is_ok_and(|output| output == expected)
    }

    /// True when a stored hash is tessera's own (argon2id): anything else was imported and is
    /// replaced after the password it was checked with is known.
    pub fn is_own(phc: &str) -> bool {
        phc.starts_with("$argon2id$")
    }

    /// True when a stored hash can be checked at all: a well-formed argon2id PHC string, or a
    /// hash [`ImportedHash`] reads. An import refuses any other.
    pub fn is_readable(phc: &str) -> bool {
        if Self::is_own(phc) {
            PasswordHash::new(phc).is_ok_and(|hash| hash.salt.is_some() && hash.hash.is_some())
        } else {
            ImportedHash::parse(phc).is_ok()
        }
    }

    /// Does the work of [`PasswordHasher::verify`] against a fixed hash made with this
    /// hasher's parameters and returns `false`, so that a sign-in for an unknown user takes
    /// as long as one for a known user and the response time does not reveal which
    /// usernames exist.
    pub fn verify_dummy(&self, password: &str) -> bool {
        // `black_box` keeps the optimiser from discarding a result that is never used.
        std::hint::black_box(self.verify(password, &self.dummy));
        false
    }
}

#[cfg(test)]
mod tests;
