//! The client computation checked against the shared Cognito SRP vectors
//! (`cognito-srp-vectors.json`, produced by pycognito and cross-checked with
//! amazon-cognito-identity-js): v1 is a plain username, v2 a UUID username with every
//! encoding quirk (sign bytes on salt, A and B, an odd-length u, a 383-byte S).

use super::*;

struct Vector {
    pool_name: &'static str,
    user_id_for_srp: &'static str,
    password: &'static str,
    salt: &'static str,
    a: &'static str,
    big_a: &'static str,
    big_b: &'static str,
    key: &'static str,
    secret_block: &'static str,
    timestamp: &'static str,
    signature: &'static str,
}

const V1: Vector = Vector {
    pool_name: "AbCdEf123",
    user_id_for_srp: "alice",
    password: "Correct-Horse-9!",
    salt: "4b1c8705740f4f1324892f5f7ff2ba93",
    a: concat!(
        "d0d362e36d0d739b784892d8b345733980861dd58a33697ab66d3ec8aad97bf9",
        "582e90d43dfaae33ba09ff03fa7a5fa3b528554d98167dcd6c530774c796aa3a",
        "b72b6f2163483836981fc0b3f934a2e8aff187327697f94c9219edfaab8c3762",
        "f4367589e1ff43b269b22e1673bb7a85c402eab7c386e936925b7fd7a0c728b4",
    ),
    big_a: concat!(
        "70d23f50c1b777993c1cd627db1c4d8541f117bc76b1149512d94c2513d5bdf8",
        "3f57c6d0d672f9dbd4a318a627dad255a09fb75397f06b67732a508d55f5b016",
        "7fd4219fb5fd2d0c58bbef31855d08cf3b1d51a58f403de0470855e701794869",
        "6f66e0572ebffd4b2a3fa97df3c9bbd561d50416ee689c6da608a6ff09f256cb",
        "1adcf91b0a646f3f6a20763e173f2314a6ef28ea2301bfdb0b7ccce7e642540c",
        "910dd0b0d8449b858f80557e17f073269948fb389285aff1dbe88027bdff14ec",
        "8fd0d213751d02e2e735813069266ab571e499ea4227bb40c27c8ead0b02eba3",
        "9c598dad5c45ab8645f2bc007a0325689a72382143121bce227411bf8b3d290d",
        "571d37ece5a1d44a807d7bdee84b6c7b7e8801866078db8756dcd7f539d0f994",
        "e63e8528b95a61606e3a6c98765d4add60d46b41c4c072b88faebce4022a8179",
        "dec982b3f43d1027b4e0fe0f751d02f8e17bc792b162c095c6ac0f06f7d52fc0",
        "9668a839145d1b0ec35be956339df9c6718d11ea8805044cfb9cd9e59d7895b2",
    ),
    big_b: concat!(
        "1d5fa93cccb0e72ef9d15246a693c581f9530dc65c42edc67d51ab232708a7c2",
        "2e0ca65ce975dfd22d0efe13574a153bb7a06ab4f0b096ec167c3393dcbbd779",
        "e0e3244954d3d844bac609f92da50f8e4eac8753633a73ee5b34fdefa10ac2aa",
        "33cd939c9b1a0bdc428e394d268bc2e4ea3d7599a96470ac44d6a3f957c51eb8",
        "b3935b656f93bdb91cbc7f3fda80bbfacc5de4dfd9ab5c7967d6eeee507b9ce9",
        "2f80e19b1a0addfff3cc3570ac6d26e02ef8cf030520a78a62a34263bf3752db",
        "057153e33c3ee445307a5fb4c259c0dbaf1c2b55d7c3a2931b51d4f753457730",
        "00c696caf40d80cb4203556019dd1ee4261545122778acc83bb8d5d4d8542fda",
        "15f678e202c3b0ac88ace0b8432e8a03b48e0c55de001ef3df65384817f39527",
        "f8c2c1c8843c9802e1eec5d2eeae21468f13300788a30b75422ef24ec4b56f3f",
        "151366bc542a4e5f9ae2026ea686b3fdf12423ff66e5ead3d54b6ecb83f5a8b2",
        "a6749095f21ae7baa6c08ea1db01978b65f8bd32e0ebffaa95f219c9137d5558",
    ),
    key: "5faad1b8d48baa0599c74d7766f3c623",
    secret_block:
        "0VUHBsQ6lwAG+VJPQGNnb3vpRAUQk+37v+p0ylOpKufRVQcGxDqXAAb5Uk9AY2dve+lEBRCT7fu/6nTKU6kq5w==",
    timestamp: "Tue Jan 2 03:04:05 UTC 2024",
    signature: "Sm1Sa/X9s7r/TCXdfoMZWMNl4xQvLbbc/UGYS4METC8=",
};

const V2: Vector = Vector {
    pool_name: "Zz9YyXx8W",
    user_id_for_srp: "3f1c2b7e-8d4a-4c6b-9e2f-0a1b2c3d4e5f",
    password: "Pässwörd-Ω-42",
    salt: "815562bf2c97c8482bcc0d34eb8e7565",
    a: concat!(
        "eb3df269d57af8d4615a8f7f8c74fb01fea48377b90abdc77b592df375df0e62",
        "36c1aa109d8d1e7298a2b1f3a4ed8e1e99d39ffc0ff334b765e848f396ea16cb",
        "1c1c3595e07b25c63273a31b6e180d1d71ac868c09fd780865fd1da7f5e57398",
        "3ff107defb65fd7e09d1f27daf9d957d957b960918dc25bb28bfeda0ab2d1068",
    ),
    big_a: concat!(
        "edcc74e1769349e71977fc38a2e01f6825a107ae290af1e9014551ac2b41f820",
        "b720a5c517e406998e59bb1610f9c6cb2ba0c6eb6fbbe0233a2b88b6e1180c08",
        "358b59e30fbee3ec871047ce06ca31bd3750062f6afaab69f67aa8d691396940",
        "6934fb6d0720e257ea5ab68ebd565740509e98a71460d9a970601b174f43d4de",
        "f7c5ea1e9663f5b5f5025c6297fc9cb357b07e4260b067213d40d35c59e05404",
        "34a10562b28f914ffc0730778017a83ad583aa8101494f87d95a602057d9700f",
        "386694f4feb14fbfb167b8c404223d017aa66d2a276e46342360f91f629cd9a8",
        "d028be862047973a426d40a675920d1e2108805855d0592865245449c0007ff1",
        "cc3e1b8b061a4c7763985e9943a760cd08a8d6ca41ccfbb4849c810c32ee3e5c",
        "2646cf7d575f2d00adf2a44fc46487b43000993709eec19a8a7e9590610ba0fc",
        "e9e33ce152d86572e8b164e036e5d6c6c192957b63626c547bbb1d5f7b042df4",
        "b88a198f38cd9a537b03f7d1c153ab8978cec4bc08d448fb77999b6ad282d88d",
    ),
    big_b: concat!(
        "804b0ff2c18a4801f9a7b7c2938cb5a5a181cfcce38c06e4abf331a633f62fd2",
        "845df1710561a678ebc6a5d40d302eca2ebf2c95cfade6ac0f39fdc200ad9fa3",
        "f68d7ae01c87b883426779e1b169bb894f53efeb66ffab925f4c47270e1c8452",
        "f28572c4c8bdd0732fd77caaaeaff1f0c7d397fe8f3adcceca4a745585cb1425",
        "1a2db5c6260ec0a1dba6aad106b11851fd8007a859923f09cc4cbeff071ed227",
        "f5bdf53532d0198bbc91a19cf3c9ed21debb7653f0e3e96c7b013dc04755acb1",
        "87c952b0f4d90d9fd24d098b87b699e36182b2ee1c524ba63029bf8eaa156f98",
        "2e12f35cc0a9391188864953509f1a653e2b117d99f49078448570473f5e8e7b",
        "6064b0b30d99e9c0f1584db393587d286fc4f7454d9fcb7e1a879514b9a1df76",
        "1e11fa174e73431709be4974248ea7e69ef3f93ebe702b792cb96cb3c153ad90",
        "21342d71103dbd33371c7881b050d8daaf5015557d524be7ce65fa43569e0c7f",
        "8eee0b8ccb8a20db211fe8d35c29c1df08d2ac9a62db5351a3bc49045430814e",
    ),
    key: "94f4a822040ac71e2b02bb619aa77c74",
    secret_block: "P2FwYr073DthLPM+zlidXVsyRdcj5tEWgcMRxfHK+u5iuLlCAoeUAhB1NU7ZPbkQ",
    timestamp: "Sun Nov 30 23:59:09 UTC 2025",
    signature: "KPNGZwqLF3GggwubH9Np9Rd99VnnR5Wg0+1tLHOFps4=",
};

fn check(vector: &Vector) {
    let secret = parse_hex(vector.a).unwrap_or_default();
    let ephemeral = Ephemeral::from_secret(&secret);
    assert_eq!(ephemeral.public_hex(), vector.big_a);
    let user = UserKey::new(
        vector.pool_name,
        vector.user_id_for_srp,
        vector.password,
        vector.salt,
    );
    let key = user.and_then(|user| ephemeral.session_key(&user, vector.big_b));
    assert_eq!(
        key.as_deref().map(hex::encode).ok(),
        Some(vector.key.to_owned())
    );
    let signature = key.and_then(|key| {
        claim_signature(
            &key,
            vector.pool_name,
            vector.user_id_for_srp,
            vector.secret_block,
            vector.timestamp,
        )
    });
    assert_eq!(signature.ok().as_deref(), Some(vector.signature));
}

#[test]
fn matches_the_plain_username_vector() {
    check(&V1);
}

#[test]
fn matches_the_quirks_vector() {
    check(&V2);
}

#[test]
fn a_wrong_password_gives_another_signature() {
    let secret = parse_hex(V1.a).unwrap_or_default();
    let ephemeral = Ephemeral::from_secret(&secret);
    let key = UserKey::new(V1.pool_name, V1.user_id_for_srp, "wrong", V1.salt)
        .and_then(|user| ephemeral.session_key(&user, V1.big_b));
    assert_ne!(
        key.as_deref().map(hex::encode).ok(),
        Some(V1.key.to_owned())
    );
}
