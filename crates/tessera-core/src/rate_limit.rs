//! Cognito's request-rate quotas (issue 16): the categories, their default rates, which
//! operation counts against which, and the arithmetic of counting a window across nodes.
//!
//! The categories and rates are those of the Developer Guide's "Quotas in Amazon Cognito"
//! (docs/design/operations-facts.md §1.2). A quota is a number of requests per second; each
//! second is a window, counted in the database so that every node shares it. A node does not
//! write the count for every request: it takes a batch of the window's requests at a time
//! (a lease) and admits them from memory, so the database sees a few writes per window.
//! Leases are granted atomically from the shared count, so a window never admits more than
//! its quota; a lease a node does not use up is lost, so it may admit slightly fewer.

/// A Cognito quota category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    UserAuthentication,
    UserCreation,
    UserFederation,
    UserAccountRecovery,
    UserRead,
    UserUpdate,
    UserToken,
    UserResourceRead,
    UserResourceUpdate,
    UserList,
    UserPoolRead,
    UserPoolUpdate,
    UserPoolResourceRead,
    UserPoolResourceUpdate,
    UserPoolClientRead,
    UserPoolClientUpdate,
    ClientAuthentication,
    LimitManagement,
}

/// Every category, in the Developer Guide's order.
pub const CATEGORIES: [Category; 18] = [
    Category::UserAuthentication,
    Category::UserCreation,
    Category::UserFederation,
    Category::UserAccountRecovery,
    Category::UserRead,
    Category::UserUpdate,
    Category::UserToken,
    Category::UserResourceRead,
    Category::UserResourceUpdate,
    Category::UserList,
    Category::UserPoolRead,
    Category::UserPoolUpdate,
    Category::UserPoolResourceRead,
    Category::UserPoolResourceUpdate,
    Category::UserPoolClientRead,
    Category::UserPoolClientUpdate,
    Category::ClientAuthentication,
    Category::LimitManagement,
];

impl Category {
    /// The category's name, as `LimitDefinition.Attributes.Category` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Category::UserAuthentication => "UserAuthentication",
            Category::UserCreation => "UserCreation",
            Category::UserFederation => "UserFederation",
            Category::UserAccountRecovery => "UserAccountRecovery",
            Category::UserRead => "UserRead",
            Category::UserUpdate => "UserUpdate",
            Category::UserToken => "UserToken",
            Category::UserResourceRead => "UserResourceRead",
            Category::UserResourceUpdate => "UserResourceUpdate",
            Category::UserList => "UserList",
            Category::UserPoolRead => "UserPoolRead",
            Category::UserPoolUpdate => "UserPoolUpdate",
            Category::UserPoolResourceRead => "UserPoolResourceRead",
            Category::UserPoolResourceUpdate => "UserPoolResourceUpdate",
            Category::UserPoolClientRead => "UserPoolClientRead",
            Category::UserPoolClientUpdate => "UserPoolClientUpdate",
            Category::ClientAuthentication => "ClientAuthentication",
            Category::LimitManagement => "LimitManagement",
        }
    }

    /// The category of this name.
    pub fn parse(name: &str) -> Option<Category> {
        CATEGORIES.into_iter().find(|c| c.name() == name)
    }

    /// Cognito's default rate, in requests per second.
    pub fn default_rate(self) -> u32 {
        match self {
            Category::UserAuthentication | Category::UserRead | Category::UserToken => 120,
            Category::UserCreation | Category::UserResourceRead => 50,
            Category::UserFederation | Category::UserUpdate | Category::UserResourceUpdate => 25,
            Category::UserAccountRecovery | Category::UserList => 30,
            Category::UserPoolRead
            | Category::UserPoolUpdate
            | Category::UserPoolResourceUpdate
            | Category::UserPoolClientRead
            | Category::UserPoolClientUpdate => 15,
            Category::UserPoolResourceRead => 20,
            Category::ClientAuthentication => 150,
            Category::LimitManagement => 1,
        }
    }

    /// Whether UpdateProvisionedLimit may raise it.
    pub fn adjustable(self) -> bool {
        matches!(
            self,
            Category::UserAuthentication
                | Category::UserCreation
                | Category::UserFederation
                | Category::UserRead
                | Category::UserToken
                | Category::UserResourceRead
        )
    }

    /// Whether the category concerns one user pool (otherwise it counts the region's
    /// requests: creating and listing pools, and the limits themselves).
    pub fn per_pool(self) -> bool {
        !matches!(
            self,
            Category::UserPoolRead | Category::UserPoolUpdate | Category::LimitManagement
        )
    }

    /// The category an API operation counts against. A challenge answer counts against
    /// UserAccountRecovery when it sets a new password (NEW_PASSWORD_REQUIRED), otherwise
    /// against UserAuthentication. `None` for operations in no category.
    pub fn of_operation(operation: &str, challenge: Option<&str>) -> Option<Category> {
        use Category::*;
        Some(match operation {
            "RespondToAuthChallenge" | "AdminRespondToAuthChallenge" => {
                if challenge == Some("NEW_PASSWORD_REQUIRED") {
                    UserAccountRecovery
                } else {
                    UserAuthentication
                }
            }
            "InitiateAuth" | "AdminInitiateAuth" | "GetTokensFromRefreshToken" => {
                UserAuthentication
            }
            "SignUp" | "ConfirmSignUp" | "AdminCreateUser" | "AdminConfirmSignUp" => UserCreation,
            "ChangePassword"
            | "ConfirmForgotPassword"
            | "ForgotPassword"
            | "AdminResetUserPassword"
            | "AdminSetUserPassword" => UserAccountRecovery,
            "AdminGetUser" | "AdminGetUserAuthFactors" | "GetUser" => UserRead,
            "AdminAddUserToGroup"
            | "AdminDeleteUserAttributes"
            | "AdminUpdateUserAttributes"
            | "AdminDeleteUser"
            | "AdminDisableUser"
            | "AdminEnableUser"
            | "AdminLinkProviderForUser"
            | "AdminDisableProviderForUser"
            | "VerifyUserAttribute"
            | "DeleteUser"
            | "DeleteUserAttributes"
            | "UpdateUserAttributes"
            | "AdminUserGlobalSignOut"
            | "GlobalSignOut"
            | "AdminRemoveUserFromGroup" => UserUpdate,
            "RevokeToken" => UserToken,
            "AdminGetDevice"
            | "AdminListGroupsForUser"
            | "AdminListDevices"
            | "GetDevice"
            | "ListDevices"
            | "GetUserAttributeVerificationCode"
            | "ResendConfirmationCode"
            | "AdminListUserAuthEvents" => UserResourceRead,
            "AdminForgetDevice"
            | "AdminUpdateAuthEventFeedback"
            | "AdminSetUserMFAPreference"
            | "AdminDeleteSoftwareToken"
            | "AdminSetUserSettings"
            | "AdminUpdateDeviceStatus"
            | "UpdateDeviceStatus"
            | "UpdateAuthEventFeedback"
            | "ConfirmDevice"
            | "SetUserMFAPreference"
            | "SetUserSettings"
            | "VerifySoftwareToken"
            | "AssociateSoftwareToken"
            | "ForgetDevice" => UserResourceUpdate,
            "ListUsers" | "ListUsersInGroup" => UserList,
            "DescribeUserPool" | "ListUserPools" => UserPoolRead,
            "CreateUserPool" | "UpdateUserPool" | "DeleteUserPool" => UserPoolUpdate,
            "DescribeIdentityProvider"
            | "DescribeResourceServer"
            | "DescribeUserImportJob"
            | "DescribeUserPoolDomain"
            | "GetCSVHeader"
            | "GetGroup"
            | "GetSigningCertificate"
            | "GetIdentityProviderByIdentifier"
            | "GetUserPoolMfaConfig"
            | "ListGroups"
            | "ListIdentityProviders"
            | "ListResourceServers"
            | "ListTagsForResource"
            | "ListUserImportJobs"
            | "DescribeRiskConfiguration"
            | "GetUICustomization"
            | "DescribeManagedLoginBranding"
            | "DescribeManagedLoginBrandingByClient" => UserPoolResourceRead,
            "AddCustomAttributes"
            | "CreateGroup"
            | "CreateIdentityProvider"
            | "CreateResourceServer"
            | "CreateUserImportJob"
            | "CreateUserPoolDomain"
            | "DeleteGroup"
            | "DeleteIdentityProvider"
            | "DeleteResourceServer"
            | "DeleteUserPoolDomain"
            | "SetUserPoolMfaConfig"
            | "StartUserImportJob"
            | "StopUserImportJob"
            | "UpdateGroup"
            | "UpdateIdentityProvider"
            | "UpdateResourceServer"
            | "UpdateUserPoolDomain"
            | "SetRiskConfiguration"
            | "SetUICustomization"
            | "TagResource"
            | "UntagResource"
            | "CreateManagedLoginBranding"
            | "UpdateManagedLoginBranding"
            | "DeleteManagedLoginBranding" => UserPoolResourceUpdate,
            "DescribeUserPoolClient" | "ListUserPoolClients" => UserPoolClientRead,
            "CreateUserPoolClient" | "DeleteUserPoolClient" | "UpdateUserPoolClient" => {
                UserPoolClientUpdate
            }
            "GetProvisionedLimit" | "UpdateProvisionedLimit" => LimitManagement,
            _ => return None,
        })
    }
}

/// Whether an operation is on the sign-in and code paths, which are also limited per source
/// address and per user: the unauthenticated operations that check a password, an answer to
/// a challenge or a code, or send one.
pub fn guards_credentials(operation: &str) -> bool {
    matches!(
        operation,
        "InitiateAuth"
            | "RespondToAuthChallenge"
            | "SignUp"
            | "ConfirmSignUp"
            | "ResendConfirmationCode"
            | "ForgotPassword"
            | "ConfirmForgotPassword"
            | "ChangePassword"
            | "VerifyUserAttribute"
            | "GetUserAttributeVerificationCode"
            | "VerifySoftwareToken"
    )
}

/// The request-rate quota of a Cognito Identity (identity pool) operation, in requests per
/// second for a region: identity pools have one quota per operation rather than categories
/// (the Developer Guide's "Quotas in Amazon Cognito", docs/design/operations-facts.md §1.4b).
/// `None` for operations without a published quota.
pub fn identity_operation_rate(operation: &str) -> Option<u32> {
    Some(match operation {
        "GetId" => 25,
        "GetOpenIdToken" | "GetCredentialsForIdentity" => 200,
        "GetOpenIdTokenForDeveloperIdentity" => 50,
        "ListIdentities" | "TagResource" | "UntagResource" => 5,
        "DeleteIdentities" | "ListTagsForResource" => 10,
        _ => return None,
    })
}

/// Cognito's bulk limit on a user pool domain: requests a second to one pool's endpoints and
/// pages in all.
pub const DOMAIN_RATE: u32 = 500;

/// Cognito's bulk limit on a user pool domain: requests a second from one source address to
/// one pool's endpoints and pages.
pub const DOMAIN_SOURCE_RATE: u32 = 300;

/// How many requests a node leases at a time from a window of `limit`: a twentieth, so that
/// a window takes about twenty writes when it is used up, and one when it is not.
pub fn lease_size(limit: u32) -> u32 {
    (limit / 20).max(1)
}

/// How many of the `asked` requests a lease got, given the window's count after the lease
/// was added (`used_after`, which may exceed the limit: a refused lease is counted too, and
/// harmlessly, since the window is then full).
pub fn granted(used_after: u64, asked: u32, limit: u32) -> u32 {
    let before = used_after.saturating_sub(u64::from(asked));
    let room = u64::from(limit).saturating_sub(before);
    u32::try_from(room.min(u64::from(asked))).unwrap_or(asked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_round_trips_by_name() {
        for category in CATEGORIES {
            assert_eq!(Category::parse(category.name()), Some(category));
        }
        assert_eq!(Category::parse("UserToolsRead"), None);
    }

    #[test]
    fn challenge_answers_setting_a_password_are_account_recovery() {
        assert_eq!(
            Category::of_operation("RespondToAuthChallenge", Some("NEW_PASSWORD_REQUIRED")),
            Some(Category::UserAccountRecovery)
        );
        assert_eq!(
            Category::of_operation("AdminRespondToAuthChallenge", Some("SMS_MFA")),
            Some(Category::UserAuthentication)
        );
        assert_eq!(
            Category::of_operation("GetUser", None),
            Some(Category::UserRead)
        );
        assert_eq!(
            Category::of_operation("StartWebAuthnRegistration", None),
            None
        );
    }

    #[test]
    fn every_credential_operation_counts_in_a_category_of_its_pool() {
        // The per-user limit is keyed by pool, which the category's pool supplies.
        for operation in [
            "InitiateAuth",
            "RespondToAuthChallenge",
            "SignUp",
            "ConfirmSignUp",
            "ResendConfirmationCode",
            "ForgotPassword",
            "ConfirmForgotPassword",
            "ChangePassword",
            "VerifyUserAttribute",
            "GetUserAttributeVerificationCode",
            "VerifySoftwareToken",
        ] {
            assert!(guards_credentials(operation), "{operation}");
            let category = Category::of_operation(operation, None);
            assert!(category.is_some_and(Category::per_pool), "{operation}");
        }
    }

    #[test]
    fn identity_operations_have_the_published_rates() {
        assert_eq!(identity_operation_rate("GetId"), Some(25));
        assert_eq!(
            identity_operation_rate("GetCredentialsForIdentity"),
            Some(200)
        );
        assert_eq!(identity_operation_rate("ListIdentities"), Some(5));
        // Pool management has no published rate.
        assert_eq!(identity_operation_rate("CreateIdentityPool"), None);
    }

    #[test]
    fn leases_never_grant_beyond_the_limit() {
        // Two nodes leasing 6 at a time from a limit of 120: grants add up to 120 exactly.
        let (limit, asked) = (120, lease_size(120));
        assert_eq!(asked, 6);
        let mut used = 0u64;
        let mut total = 0u32;
        for _ in 0..50 {
            used += u64::from(asked);
            total += granted(used, asked, limit);
        }
        assert_eq!(total, 120);
        // A partial lease at the edge.
        assert_eq!(granted(122, 6, 120), 4);
        assert_eq!(granted(6, 6, 1), 1);
        assert_eq!(lease_size(1), 1);
    }
}
