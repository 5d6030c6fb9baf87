//! SRP tests: every transcript of `cognito-srp-vectors.json` replayed step by step, the
//! rejection paths, `TIMESTAMP` parsing, and round trips against a minimal client written from
//! the same formulas as pycognito's `AWSSRP`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use crypto_bigint::{BoxedUint, ConcatenatingMul as _};

use super::*;
use crate::SeededRandom;

/// One transcript of the vectors file. For users `realm` is the pool name and `identity` the
/// `USER_ID_FOR_SRP`; for devices they are the `DeviceGroupKey` and the `DeviceKey`. Big
/// integers are in the wire form (minimal lower-case hex), as in the file.
struct Vector {
    name: &'static str,
    realm: &'static str,
    identity: &'static str,
    password: &'static str,
    salt: &'static str,
    x: &'static str,
    verifier: &'static str,
    a: &'static str,
    big_a: &'static str,
    b: &'static str,
    big_b: &'static str,
    u: &'static str,
    premaster: &'static str,
    key: &'static str,
    secret_block: &'static str,
    timestamp: &'static str,
    signature: &'static str,
}

/// `k_hex` of the vectors file's constants.
const K_HEX: &str = "538282c4354742d7cbbde2359fcf67f9f5b3a6b08791e5011b43b8a5b66d9ee6";

/// `v1-plain-username` from `cognito-srp-vectors.json`.
const V1_PLAIN_USERNAME: Vector = Vector {
    name: "v1-plain-username",
    realm: "AbCdEf123",
    identity: "alice",
    password: "Correct-Horse-9!",
    salt: "4b1c8705740f4f1324892f5f7ff2ba93",
    x: "40a2eed167725511f2ba99c9484f8e6209f606e53d422abb80b7af50544ba4dd",
    verifier: concat!(
        "e4ab8e0ccf06a5e9a7652bc4b75d0f20e0673fc8763cb1a54feea2053032e1c2",
        "d3bd323fb5e96e92c48b63a5ef60f7b96ec264f3bd054710350ddbc89f4f62ea",
        "96a0676847efefcb3e395cdca6e51d04ca2f18608c6cd2138ef7114e3a576b9c",
        "3bd7dd65ccea037f412bd4bda66b3cb831b9d2c5407ec24ade8a476332079965",
        "999a6ec0f10e50b5d54e8507c0caf41fdc35463056b75b9c5c9b70934ac951e7",
        "d67d2250d46fc6ec36a567fdefdd3891092a06a30e01e8de8931c670c88ed96d",
        "4ab1e6daef786a70232996b7428f589ad0d349ae8aa05e34f5505fab88932546",
        "ce40d810c85811a8dab071762f104cb73228a3d46f7a4336bdd1b563b930de9f",
        "3ccedb4e842a79b5776bf51fcec88497282d27b6991b6dc590308113a6b76573",
        "276f9ad485454913dfe2c80e670694a25ff0ad06ff3bdd0883046b28098b0cac",
        "499f413775faa39bfbb97629ae47fa2552ee97517cd858ee5a30b4d545d6560e",
        "9fd773b53551aaaf7e40813ba7b656be31f78f90a37883564611fab41866397a",
    ),
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
    b: "8e61a64933f09a6030501c6ca787a73a325efdbbd9bedf3855a876954e20bbcf",
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
    u: "a55764ece43fb2efb465eb02ff7a9e416feca366c2e08644290564c8dccc65e6",
    premaster: concat!(
        "dfa0acda839656147a0f6791d62a9cf4cd10b57d67e0b1abb77b66bae098c810",
        "9ef930c1ed4d22a25b469fdf0c601ba943670a57a300339eb82d91ec9c8e7320",
        "d1d7e5f5bdaecad22e7cc3ad373b5487fbf172ff6a26364e05eb81afa75bdf55",
        "037780bb44520af650062bb840313fd21a82a2856f59c7cf01479b86fbecbb6c",
        "326dcee6a1e49b1b8fa5499cc20e6279a52585da5e90f3691f2d005d0cedb5b6",
        "accaaeca3a5bffe0dc5d1c29a731585ef1416a168e6d1e48614aca01a913bc82",
        "bba32206faef1294e00b8c2c81ed437f7425d5cca0bed004883b6f59058e0f80",
        "4ca8a610bf9536b36bf6c3b92b3bda93662b20b0ee31fda231c88dce3236a06d",
        "89a62e66849bd5a0b4bb91aa9a81b067a252a9950f6795387a8ca4964ac31d0f",
        "787d45b052198b30e182d1f7dfde0176bfebdfc2c437c0209c31247e3cb69cb8",
        "8fa8d53e21e547c23eb62731aad20251dcff67dc3863439141cb91fb6ed55649",
        "dbf7560e5aa0d8545fd50d920a0e8b94ec57555b069c53282751b16afcb0e1fa",
    ),
    key: "5faad1b8d48baa0599c74d7766f3c623",
    secret_block:
        "0VUHBsQ6lwAG+VJPQGNnb3vpRAUQk+37v+p0ylOpKufRVQcGxDqXAAb5Uk9AY2dve+lEBRCT7fu/6nTKU6kq5w==",
    timestamp: "Tue Jan 2 03:04:05 UTC 2024",
    signature: "Sm1Sa/X9s7r/TCXdfoMZWMNl4xQvLbbc/UGYS4METC8=",
};

/// `v2-uuid-username-quirks` from `cognito-srp-vectors.json`.
const V2_UUID_USERNAME_QUIRKS: Vector = Vector {
    name: "v2-uuid-username-quirks",
    realm: "Zz9YyXx8W",
    identity: "3f1c2b7e-8d4a-4c6b-9e2f-0a1b2c3d4e5f",
    password: "Pässwörd-Ω-42",
    salt: "815562bf2c97c8482bcc0d34eb8e7565",
    x: "5ea8269ee8b8865e4a5fd3ebfdb9b42842b7cde398ff2bad660eb6a21d9be33b",
    verifier: concat!(
        "b70e7a2dd3e3e82f4e3a589a2171432ec8ea8f7746357149b55600bea27a360d",
        "62576cca1156a6a01065b2993e61b07db0c226404c939a6541b2eca45911edbf",
        "cbf2b5732fd0c0c3b39ea7f02c3b4789f60cb1b64cb56a0f2928d03fb3398747",
        "0aab85a6eb2dfb5075d2d69cd7c457a3eae6a99ef9a3d28aa8c2e80589eac65d",
        "13d204fa491fdb946d99b623a2dbab4e7324620d1719d3fb4d651f6c87f44d8a",
        "8706da0e7ce33ea12645c2f8684b38c79bd3f674cba52941f7dd12f5b81193ba",
        "6f6ec64f0db7766292178f6994474a0f4fa27e9268b2bf868e24779416a294d7",
        "406dcf24e49448705a22678c3e43dd5296abdbe24308d315d292367e57def129",
        "f9eed2aec581782d1d3c4b77a723c42add409336e9bd393c85cab522d3bea14b",
        "90a35f5376855ea9be23b9ed672804f7f7e078f733eeacc00e62767a7f2328e4",
        "cd7400cc6774a4691cb1706b028ece29a8aa9b72b22cc7360df8cf8a674aa463",
        "a058b92b57c6c2955d3dbb27a2fc3179633a0cf3fe161c105a42f5d59e292bc3",
    ),
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
    b: "f0f7cc32c4554b275c542bf1bdcb82c078d39f0f1fd461612a88d710c333e2a5",
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
    u: "a33d9b118375fb216f4ff12c4bbf062c73bbcd56ac9be5fc12ea83cedc3b189",
    premaster: concat!(
        "53d881fec4a37870a82ac6dab5f8e54fceba714133526cc59bce8c76cce6995e",
        "078f7a8961d7d00c86093d8f254b2f3b9cf905d30d4c4c73cdd9e5fdfa338014",
        "33c3bdb99d16c8c9e102ab7d33fa14ace109f173473097c06299de60a8b66c6f",
        "410b2713db772de16fa62ab050632f49d9cf689370e1970d956ad9815ea8f6c4",
        "5d0c90571afb652b62734df94a41420ffbe6bcb16852e65b64f05c0ce9d6cf48",
        "e354364d61f646d96f090d780f150d3ceac832a16c3c80376901cbc7a21d9339",
        "d2fbaf943977a5d450f5f96c689995745733f2be074b79e899f901eed451e951",
        "8b8089b71d368686666d40bd214c6f7fd06e5bd9e04f1b7e21b3906d07d27e4d",
        "3fd357d57cabd6e6124cef05ff2a2b3bbac3671f28d3c73d6039399f3a60f922",
        "98fd96d1ad02cc87774bfd6d146edfc25fc9fa45508f5947dfe613cbb45e4dff",
        "edbf90eba11a55147dbc73206c9986d0500aa87ffd99742d6d00318711bc6e29",
        "fd11921f77a914ce969a22a1bfff4594a79637d59642731571613f1d1e9205",
    ),
    key: "94f4a822040ac71e2b02bb619aa77c74",
    secret_block: "P2FwYr073DthLPM+zlidXVsyRdcj5tEWgcMRxfHK+u5iuLlCAoeUAhB1NU7ZPbkQ",
    timestamp: "Sun Nov 30 23:59:09 UTC 2025",
    signature: "KPNGZwqLF3GggwubH9Np9Rd99VnnR5Wg0+1tLHOFps4=",
};

/// `device-srp-1` from `cognito-srp-vectors.json`.
const DEVICE_SRP_1: Vector = Vector {
    name: "device-srp-1",
    realm: "-v7w9UcY6",
    identity: "us-east-1_6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
    password: "qLIq1kn7T8G4uIrpPhk/J2Ai1RUMBBjvCif2lHHFQQJl7uUX6qaRuw==",
    salt: "4b73850d0b23ac7d00a320d3940d6386",
    x: "85ce95f1bad12f61602565d5d6311e32121713b86633087a1577a37deab6c711",
    verifier: concat!(
        "ade6a70edfb1178e5585b052174e4d300b352f3d13f2529d013c1cc6bf0bd959",
        "a9d5fa4ad875509a4109d341b449dd9f0507d0b1c7913e13d3a6fc30eec436d7",
        "f1d82a91ff836b853d69184c778b853f49d14818a7f6a58221a6138d259642f3",
        "73031751b385443cfd2cd4650af5c3f80727083dd68a252409fe3e9fea8fe865",
        "319095425553f154c1ea71ea7a235e95963756f76e572f320f613b719a94eed6",
        "5da01fe43d743e566bf63adf8b50b1f2b0050bbc0fb6b30a0f7df5750d5617d3",
        "bab942666903ec53742674dbf7851ae50b9e04fd08b345c100d0b6aa5e87c39c",
        "82aef13ed84400f0d4b4dd84f833ba3af7fe996aeaaea4a02e03d3e5922a6ee6",
        "295747f4773005cdee788d0af6701bc4de960b3e0e4b8efc072df90a1f148814",
        "1f83874f0b81eee715a289b16f4599c5d476bf4e2d0349de617fbfd745b320a7",
        "920e2460beae2a53020783a887b70792567510cfc898056d055643a36442e0dd",
        "208f739436618203de7e42ed6c92b87d1336c4babdcc78554581c7401af98cce",
    ),
    a: concat!(
        "e4682efc317fc5f7372f3a35c02cc1b8211dc66a597a358a68a2ce25d17e4b68",
        "adfb3bfdcc3aa7077882befb51eb36b5086d49de1f38c28f8a6af39303ef8e5a",
        "25acf2d175bc215794e13ee888bd33721a065cb6d4abbc801bcede6f6df18e24",
        "acb2d0e1a75ee0c6d5ac141b7ce683e5eaa33f37e074ebb9a23b22b31693db88",
    ),
    big_a: concat!(
        "c4a5262d0b917cfbdc9c508ba863cc2a4fae289288b07068e36d0cc22df7c47b",
        "ac53c20457d83c9ae3f13dbcad31fd6d30731d648c12af0598257460e1744697",
        "0370eecddd79bfcc9e668ee3a43028a6309298feb269e2ed7dc6a0cb3c533d23",
        "595921e68446b7d79b403506f26fbb3cace6f219ec1f3d13a5aaefda40303aed",
        "6277e583009c89ad6653995fc4ebc1fdc6c09add8c7d07429b3e49f5ad627537",
        "36b0e3b08239f60a88bc32bd0c246dd90b6725caa63b21df99faeac072b8adb3",
        "71b73a15ffbdb0c02a1bc65b522bc87ff092d2b238cddf615f590153599c8e50",
        "b99fa5866a160a77a6f2e48555d0c02c03ee09ee3cf0b34178b1c02602eab316",
        "5fd8342f3aa9e2cc03fb91d6e66ecce6ecd6a5a2d6fe42c748fb1434afaa70de",
        "b2994df758bf7194dc2524bcabae249758a388612e1c44caa8b78a1e2c34a009",
        "07763af9b68bc101cfad31124f48a8d1effb6f054b564e2b5e4d0cfd6177054e",
        "3a975a53b0d23e808de597a4f8340d05c56770cc3b48729a8abe75911be852f6",
    ),
    b: "f4dd6dbdda27b8bcc92e6ebaa1b65523b1927eb470f723bd8c4a5b92fabb2221",
    big_b: concat!(
        "7d5ae923ad36a0d87bc3dc8f77129ee334fc8060af67593a17a2555c7c9678cd",
        "9fe127025af101ba314bef6131bb1770d54979382848d793cd3c32d5630e3e43",
        "6b36ead860108d8833f34eca736eb57b7ef972b74052761558eaabeeaf91c757",
        "ee565772c8f55ec76fb39732938973e16122ec6268edef715124412f1acf87f7",
        "c2429065cbc9bde877a886c04f8f5f05f26560dba4c779798cbc6c49f657b8fa",
        "936a40a5d93dad27e05230bd7c22d768a772836f94e8bc911aab9b5c0d58e63e",
        "a4802e84d8514bbb3a5c27a342ec3c3e89c79c115bfd8273a920e3fc40f9940d",
        "b18d682ddaf7c730dd0c2df2ada75b79b2f10c96a56776838c0c16ca511fdb69",
        "4749f93029f4b284072dcde8efc8bd994be463834c8e95b03ba2716a34ce284e",
        "2157e89864f99fc531c72502078c84ee9955a3187b77f26773c8365888a01a82",
        "87214dd7b3ff750f92e7752cc2416c82d31dae34b204739019bb495db4545eab",
        "4b6ff757edaa10d7a81e6380e1a7ba4190729eb8a6e6ea6d8441c8b5248a2505",
    ),
    u: "85ae4b2f28601adf87dc7600fd3850b574718e2603fd4a29a9b45b44a5e2f8b0",
    premaster: concat!(
        "e1b26257d8a015e8fa13417638f0618b01631bf12837238ec259058eca2eaecf",
        "22cdb8be6a18309627e1cb2b6139278822604eddfc0be8d0a116b2048c3c4646",
        "cfe31e71a732095bf7698c5573084624af46645f46b5504e8b05be2e3322d0af",
        "8912369862e41590db13be4b7ae0e4106391d7d551239274fdc7b42660842bb0",
        "57801e190ec72376fdf8cdb8f74534062b61a6bca78a168ad69b6a71e1afcdb3",
        "5a9543a4b155705a637f95366c215004e68853ffc4b9f3c59d8d6c43b666234d",
        "fbb7b357bdfacf58734936947f586952c5273afb7e5162c38f80c3e2d6590f60",
        "d5cedf83bee9931098aa9afbc7f2c98a664d94e19c39fed5eaf6d3c9921a9196",
        "86ff5b843c5ef563a4207cdc6bdd82ddd44c6da1d3d0ef5496f9f3d1e83728bb",
        "cb5cc1d15a9fa83733ebeeac2de641c2008f7043e1d7e5138fad38ad126b6c9e",
        "39453b6b705eb8bfb39b286a6f7bb4813d3d6106c4c2fcd10c575f4960dff8ac",
        "a6a1920924eb47027ab6a37b01842f68a5951aa617d9296974309a021f8c762c",
    ),
    key: "16e2f40c192705c5f5080e17f72d94af",
    secret_block: "gMoP3vZDykyeTjxAFF5w5hgFR5K+oFFtzD1TO6BgbjqAyg/e9kPKTJ5OPEAUXnDmGAVHkr6gUW3MPVM7oGBuOoDKD972Q8pMnk48QBRecOYYBUeSvqBRbcw9UzugYG46",
    timestamp: "Sat Jun 7 08:09:10 UTC 2025",
    signature: "uRa0GDvwA3jOIbqMcjScbulPeX/2h/A3+BrZj2Aa+ig=",
};
/// The `DeviceSecretVerifierConfig` that `device-srp-1`'s client sent in ConfirmDevice.
const DEVICE_CONFIRM_VERIFIER_B64: &str = "AK3mpw7fsReOVYWwUhdOTTALNS89E/JSnQE8HMa/C9lZqdX6Sth1UJpBCdNBtEndnwUH0LHHkT4T06b8MO7ENtfx2CqR/4NrhT1pGEx3i4U/SdFIGKf2pYIhphONJZZC83MDF1GzhUQ8/SzUZQr1w/gHJwg91oolJAn+Pp/qj+hlMZCVQlVT8VTB6nHqeiNelZY3VvduVy8yD2E7cZqU7tZdoB/kPXQ+Vmv2Ot+LULHysAULvA+2swoPffV1DVYX07q5QmZpA+xTdCZ02/eFGuULngT9CLNFwQDQtqpeh8Ocgq7xPthEAPDUtN2E+DO6Ovf+mWrqrqSgLgPT5ZIqbuYpV0f0dzAFze54jQr2cBvE3pYLPg5LjvwHLfkKHxSIFB+Dh08Lge7nFaKJsW9FmcXUdr9OLQNJ3mF/v9dFsyCnkg4kYL6uKlMCB4Ooh7cHklZ1EM/ImAVtBVZDo2RC4N0gj3OUNmGCA95+Qu1skrh9EzbEur3MeFVFgcdAGvmMzg==";
const DEVICE_CONFIRM_SALT_B64: &str = "S3OFDQsjrH0AoyDTlA1jhg==";

const VECTORS: [&Vector; 3] = [&V1_PLAIN_USERNAME, &V2_UUID_USERNAME_QUIRKS, &DEVICE_SRP_1];
const USER_VECTORS: [&Vector; 2] = [&V1_PLAIN_USERNAME, &V2_UUID_USERNAME_QUIRKS];

/// The exact bytes hashed in the user vectors (`salt_hashed_bytes_hex`, `hkdf_salt_bytes_hex`
/// and the byte length of `hkdf_ikm_bytes_hex`), which pin the sign-byte rule of `enc`.
const HASHED_BYTES: [(&Vector, &str, &str, usize); 2] = [
    (
        &V1_PLAIN_USERNAME,
        "4b1c8705740f4f1324892f5f7ff2ba93",
        "00a55764ece43fb2efb465eb02ff7a9e416feca366c2e08644290564c8dccc65e6",
        385,
    ),
    (
        &V2_UUID_USERNAME_QUIRKS,
        "00815562bf2c97c8482bcc0d34eb8e7565",
        "0a33d9b118375fb216f4ff12c4bbf062c73bbcd56ac9be5fc12ea83cedc3b189",
        383,
    ),
];

/// Decodes hex of any length (the wire form of `u` can have an odd number of digits).
fn bytes(hex_text: &str) -> Vec<u8> {
    let padded = if hex_text.len() % 2 == 1 {
        format!("0{hex_text}")
    } else {
        hex_text.to_owned()
    };
    hex::decode(padded).unwrap()
}

fn vector_verifier(vector: &Vector) -> SrpVerifier {
    SrpVerifier {
        salt: bytes(vector.salt),
        verifier: bytes(vector.verifier),
    }
}

fn vector_challenge(vector: &Vector) -> SrpChallenge {
    let big_a = parse_public_hex(vector.big_a).unwrap();
    challenge_with_secret(&vector_verifier(vector), &big_a, &bytes(vector.b)).unwrap()
}

fn vector_claim(vector: &Vector) -> PasswordClaim<'static> {
    PasswordClaim {
        secret_block_b64: vector.secret_block,
        timestamp: vector.timestamp,
        signature_b64: vector.signature,
    }
}

fn verify_vector(vector: &Vector, claim: &PasswordClaim<'_>) -> Result<bool, SrpError> {
    verify_password_claim(
        vector.realm,
        vector.identity,
        &vector_verifier(vector),
        &vector_challenge(vector),
        claim,
    )
}

fn unix(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

/// A minimal SRP client, the way pycognito, amazon-cognito-identity-js and Amplify compute
/// their side: `A = g^a`, `S = (B − k·g^x)^(a + u·x) mod N`. Its exponent and base differ from
/// the server's, so agreement on `S` checks the server's arithmetic along another path.
struct Client {
    a: Vec<u8>,
    big_a: Vec<u8>,
}

impl Client {
    fn new(a: &[u8]) -> Self {
        let a_value = BoxedUint::from_be_slice(a, 2048).unwrap();
        let big_a = GROUP.g.pow_bounded_exp(&a_value, 2048).retrieve();
        Self {
            a: a.to_vec(),
            big_a: to_bytes(&big_a),
        }
    }

    /// A client with a 1024-bit random `a`, as pycognito draws it.
    fn random(random: &dyn Random) -> Self {
        let mut a = [0u8; 128];
        random.fill(&mut a);
        Self::new(&a)
    }

    /// `SRP_A` as the client sends it.
    fn srp_a(&self) -> String {
        to_hex(&self.big_a)
    }

    /// The premaster secret `S` from the `SALT` and `SRP_B` challenge parameters.
    fn premaster(
        &self,
        realm: &str,
        identity: &str,
        password: &str,
        salt_hex: &str,
        big_b_hex: &str,
    ) -> Vec<u8> {
        let salt = bytes(salt_hex);
        let big_b = bytes(big_b_hex);
        let u = sha256(&[&enc(&self.big_a), &enc(&big_b)]);
        let inner = sha256(&[
            realm.as_bytes(),
            identity.as_bytes(),
            b":",
            password.as_bytes(),
        ]);
        let x = sha256(&[&enc(&salt), &inner]);
        let x_value = BoxedUint::from_be_slice(&x, 256).unwrap();
        let g_x = GROUP.g.pow_bounded_exp(&x_value, 256);
        let base = group_element(&big_b).unwrap().sub(&GROUP.k.mul(&g_x));
        let u_x = BoxedUint::from_be_slice(&u, 256)
            .unwrap()
            .concatenating_mul(&x_value);
        let exponent = BoxedUint::from_be_slice(&self.a, 2048)
            .unwrap()
            .wrapping_add(BoxedUint::from_be_slice(&u_x.to_be_bytes(), 2048).unwrap());
        to_bytes(&base.pow_bounded_exp(&exponent, 2048).retrieve())
    }

    /// `PASSWORD_CLAIM_SIGNATURE` for the given challenge parameters and `TIMESTAMP`.
    #[allow(clippy::too_many_arguments)]
    fn sign(
        &self,
        realm: &str,
        identity: &str,
        password: &str,
        salt_hex: &str,
        big_b_hex: &str,
        secret_block_b64: &str,
        timestamp: &str,
    ) -> String {
        let premaster = self.premaster(realm, identity, password, salt_hex, big_b_hex);
        let u = sha256(&[&enc(&self.big_a), &enc(&bytes(big_b_hex))]);
        sign_with_key(
            &derive_key(&u, &premaster),
            realm,
            identity,
            secret_block_b64,
            timestamp,
        )
    }
}

/// The HMAC a client sends, for a known key.
fn sign_with_key(
    key: &[u8],
    realm: &str,
    identity: &str,
    secret_block_b64: &str,
    timestamp: &str,
) -> String {
    let block = STANDARD.decode(secret_block_b64).unwrap();
    STANDARD.encode(hmac_sha256(
        key,
        &[
            realm.as_bytes(),
            identity.as_bytes(),
            &block,
            timestamp.as_bytes(),
        ],
    ))
}

/// A broken random source that only ever yields zeros.
struct Zeros;

impl Random for Zeros {
    fn fill(&self, buf: &mut [u8]) {
        buf.fill(0);
    }
}

#[test]
fn group_constants_match_the_wire_facts() {
    assert_eq!(to_hex(&GROUP.modulus), MODULUS_HEX);
    assert_eq!(GROUP.modulus.len(), 384);
    // enc(N) gains the sign byte: the k input is 0x00 ‖ N ‖ 0x02, 386 bytes.
    assert_eq!(enc(&GROUP.modulus).len(), 385);
    assert_eq!(to_hex(&to_bytes(&GROUP.k.retrieve())), K_HEX);
    assert_eq!(to_bytes(&GROUP.g.retrieve()), [2]);
    assert_eq!(
        DERIVED_KEY_INFO,
        bytes("43616c646572612044657269766564204b657901").as_slice()
    );
}

#[test]
fn enc_and_to_hex_follow_java_big_integer() {
    assert_eq!(enc(&[]), [0]);
    assert_eq!(enc(&[0, 0]), [0]);
    assert_eq!(enc(&[0x7f, 0xff]), [0x7f, 0xff]);
    assert_eq!(enc(&[0x80]), [0, 0x80]);
    assert_eq!(enc(&[0, 0, 0x12, 0x34]), [0x12, 0x34]);
    assert_eq!(enc(&[0, 0xff]), [0, 0xff]);
    assert_eq!(to_hex(&[]), "0");
    assert_eq!(to_hex(&[0, 0]), "0");
    assert_eq!(to_hex(&[0x0a]), "a");
    assert_eq!(to_hex(&[0, 0x0a, 0xbc]), "abc");
    assert_eq!(to_hex(&[0, 0x81, 0x55]), "8155");
    assert_eq!(to_hex(&[0x12, 0x00]), "1200");
}

#[test]
fn pool_name_is_the_part_after_the_first_underscore() {
    assert_eq!(srp_pool_name("us-east-1_AbCdEf123"), "AbCdEf123");
    assert_eq!(srp_pool_name("eu-west-1_Zz9YyXx8W"), "Zz9YyXx8W");
    assert_eq!(srp_pool_name("a_b_c"), "b_c");
    assert_eq!(srp_pool_name("nounderscore"), "nounderscore");
    for vector in USER_VECTORS {
        let pool_id = match vector.name {
            "v1-plain-username" => "us-east-1_AbCdEf123",
            _ => "eu-west-1_Zz9YyXx8W",
        };
        assert_eq!(srp_pool_name(pool_id), vector.realm, "{}", vector.name);
    }
}

#[test]
fn verifier_from_password_and_salt_equals_each_vector() {
    for vector in VECTORS {
        let salt = bytes(vector.salt);
        assert_eq!(
            hex::encode(private_key(
                vector.realm,
                vector.identity,
                vector.password,
                &salt
            )),
            vector.x,
            "{}: x",
            vector.name
        );
        let computed =
            SrpVerifier::with_salt(vector.realm, vector.identity, vector.password, &salt);
        assert_eq!(computed, vector_verifier(vector), "{}", vector.name);
        assert_eq!(to_hex(&computed.salt), vector.salt, "{}: SALT", vector.name);
        assert!(computed.matches_password(vector.realm, vector.identity, vector.password));
        assert!(!computed.matches_password(vector.realm, vector.identity, "wrong"));
        assert!(!computed.matches_password(vector.realm, "someone-else", vector.password));
    }
    for (vector, salt_bytes, _, _) in HASHED_BYTES {
        assert_eq!(
            hex::encode(enc(&bytes(vector.salt))),
            salt_bytes,
            "{}",
            vector.name
        );
    }
}

#[test]
fn device_config_reads_into_the_vector_verifier() {
    let config =
        SrpVerifier::from_device_config(DEVICE_CONFIRM_VERIFIER_B64, DEVICE_CONFIRM_SALT_B64)
            .unwrap();
    assert_eq!(config, vector_verifier(&DEVICE_SRP_1));
    // Without padding, as a lenient client might send it.
    let unpadded = SrpVerifier::from_device_config(
        DEVICE_CONFIRM_VERIFIER_B64.trim_end_matches('='),
        DEVICE_CONFIRM_SALT_B64.trim_end_matches('='),
    )
    .unwrap();
    assert_eq!(unpadded, config);
    let zero = STANDARD.encode([0u8; 3]);
    let modulus = STANDARD.encode(&*GROUP.modulus);
    assert_eq!(
        SrpVerifier::from_device_config(&zero, DEVICE_CONFIRM_SALT_B64),
        Err(SrpError::InvalidVerifier)
    );
    assert_eq!(
        SrpVerifier::from_device_config(&modulus, DEVICE_CONFIRM_SALT_B64),
        Err(SrpError::InvalidVerifier)
    );
    assert_eq!(
        SrpVerifier::from_device_config("not base64!", DEVICE_CONFIRM_SALT_B64),
        Err(SrpError::Encoding("PasswordVerifier"))
    );
    assert_eq!(
        SrpVerifier::from_device_config(DEVICE_CONFIRM_VERIFIER_B64, "***"),
        Err(SrpError::Encoding("Salt"))
    );
}

#[test]
fn server_reproduces_each_transcript_step_by_step() {
    for vector in VECTORS {
        let challenge = vector_challenge(vector);
        assert_eq!(to_hex(&challenge.big_a), vector.big_a, "{}: A", vector.name);
        assert_eq!(
            to_hex(&challenge.big_b),
            vector.big_b,
            "{}: SRP_B",
            vector.name
        );
        let Premaster { u, secret } = premaster_secret(&vector_verifier(vector), &challenge)
            .unwrap()
            .unwrap();
        assert_eq!(to_hex(&u), vector.u, "{}: u", vector.name);
        assert_eq!(to_hex(&secret), vector.premaster, "{}: S", vector.name);
        let key = session_key(&vector_verifier(vector), &challenge)
            .unwrap()
            .unwrap();
        assert_eq!(hex::encode(&key), vector.key, "{}: K", vector.name);
    }
    for (vector, _, hkdf_salt, ikm_len) in HASHED_BYTES {
        let challenge = vector_challenge(vector);
        let Premaster { u, secret } = premaster_secret(&vector_verifier(vector), &challenge)
            .unwrap()
            .unwrap();
        assert_eq!(hex::encode(enc(&u)), hkdf_salt, "{}", vector.name);
        assert_eq!(enc(&secret).len(), ikm_len, "{}", vector.name);
    }
}

#[test]
fn the_test_client_reproduces_each_transcript() {
    for vector in VECTORS {
        let client = Client::new(&bytes(vector.a));
        assert_eq!(client.srp_a(), vector.big_a, "{}: A", vector.name);
        let premaster = client.premaster(
            vector.realm,
            vector.identity,
            vector.password,
            vector.salt,
            vector.big_b,
        );
        assert_eq!(to_hex(&premaster), vector.premaster, "{}: S", vector.name);
        let signature = client.sign(
            vector.realm,
            vector.identity,
            vector.password,
            vector.salt,
            vector.big_b,
            vector.secret_block,
            vector.timestamp,
        );
        assert_eq!(signature, vector.signature, "{}", vector.name);
    }
}

#[test]
fn server_accepts_each_vector_signature() {
    for vector in VECTORS {
        assert_eq!(
            verify_vector(vector, &vector_claim(vector)),
            Ok(true),
            "{}",
            vector.name
        );
    }
}

#[test]
fn srp_a_is_read_in_either_case_and_with_leading_zeros() {
    for vector in VECTORS {
        let expected = bytes(vector.big_a);
        assert_eq!(parse_public_hex(vector.big_a).unwrap(), expected);
        assert_eq!(
            parse_public_hex(&vector.big_a.to_uppercase()).unwrap(),
            expected
        );
        assert_eq!(
            parse_public_hex(&format!("000{}", vector.big_a)).unwrap(),
            expected
        );
    }
    assert_eq!(parse_public_hex("abc").unwrap(), [0x0a, 0xbc]);
}

#[test]
fn tampered_claims_are_refused() {
    for vector in VECTORS {
        let claim = vector_claim(vector);
        // One character of the signature changed.
        let mut tampered = vector.signature.to_owned();
        let first = if tampered.starts_with('A') { "B" } else { "A" };
        tampered.replace_range(0..1, first);
        let bad = PasswordClaim {
            signature_b64: &tampered,
            ..claim
        };
        assert_eq!(verify_vector(vector, &bad), Ok(false), "{}", vector.name);
        // A signature that is not base64 at all, or empty.
        for signature in ["", "not base64!", "Sm1Sa"] {
            let bad = PasswordClaim {
                signature_b64: signature,
                ..claim
            };
            assert_eq!(verify_vector(vector, &bad), Ok(false), "{}", vector.name);
        }
        // Another well-formed timestamp, and another secret block.
        let bad = PasswordClaim {
            timestamp: "Mon Jan 1 00:00:00 UTC 2024",
            ..claim
        };
        assert_eq!(verify_vector(vector, &bad), Ok(false), "{}", vector.name);
        let bad = PasswordClaim {
            secret_block_b64: "AAAA",
            ..claim
        };
        assert_eq!(verify_vector(vector, &bad), Ok(false), "{}", vector.name);
        // The right proof presented for another user or pool.
        let verify_as = |realm: &str, identity: &str| {
            verify_password_claim(
                realm,
                identity,
                &vector_verifier(vector),
                &vector_challenge(vector),
                &claim,
            )
        };
        assert_eq!(verify_as(vector.realm, "mallory"), Ok(false));
        assert_eq!(verify_as("OtherPool", vector.identity), Ok(false));
    }
}

#[test]
fn wrong_password_is_refused() {
    for vector in VECTORS {
        let wrong = SrpVerifier::with_salt(
            vector.realm,
            vector.identity,
            "Wrong-Horse-9!",
            &bytes(vector.salt),
        );
        let big_a = parse_public_hex(vector.big_a).unwrap();
        let challenge = challenge_with_secret(&wrong, &big_a, &bytes(vector.b)).unwrap();
        let claim = vector_claim(vector);
        assert_eq!(
            verify_password_claim(vector.realm, vector.identity, &wrong, &challenge, &claim),
            Ok(false),
            "{}",
            vector.name
        );
        // The client signs with the wrong password against the right verifier.
        let client = Client::new(&bytes(vector.a));
        let signature = client.sign(
            vector.realm,
            vector.identity,
            "Wrong-Horse-9!",
            vector.salt,
            vector.big_b,
            vector.secret_block,
            vector.timestamp,
        );
        let claim = PasswordClaim {
            signature_b64: &signature,
            ..claim
        };
        assert_eq!(verify_vector(vector, &claim), Ok(false), "{}", vector.name);
    }
}

#[test]
fn degenerate_srp_a_is_refused() {
    let verifier = vector_verifier(&V1_PLAIN_USERNAME);
    let random = SeededRandom::new(1);
    let modulus_hex = to_hex(&GROUP.modulus);
    // N ends in 0xff, so clearing its last byte gives N − 255, the largest kind of valid A.
    let mut just_below = GROUP.modulus.to_vec();
    if let Some(last) = just_below.last_mut() {
        *last = 0;
    }
    let twice = format!("1{}", "f".repeat(768));
    for invalid_a in [
        "0",
        "00000",
        &modulus_hex,
        &modulus_hex.to_uppercase(),
        &format!("00{modulus_hex}"),
        &twice,
        &"f".repeat(768),
    ] {
        assert_eq!(
            srp_challenge(&verifier, invalid_a, &random).unwrap_err(),
            SrpError::InvalidA,
            "{invalid_a}"
        );
    }
    for malformed_a in ["", "0x12", "-1", "12 34", "xyz", "１２"] {
        assert_eq!(
            srp_challenge(&verifier, malformed_a, &random).unwrap_err(),
            SrpError::Encoding("SRP_A"),
            "{malformed_a}"
        );
    }
    assert!(srp_challenge(&verifier, &to_hex(&just_below), &random).is_ok());
    // The same values smuggled into step 2 through a forged record.
    for big_a in [Vec::new(), vec![0], GROUP.modulus.to_vec()] {
        let challenge = SrpChallenge {
            big_a,
            ..vector_challenge(&V1_PLAIN_USERNAME)
        };
        assert_eq!(
            verify_password_claim(
                V1_PLAIN_USERNAME.realm,
                V1_PLAIN_USERNAME.identity,
                &verifier,
                &challenge,
                &vector_claim(&V1_PLAIN_USERNAME),
            ),
            Err(SrpError::InvalidA)
        );
    }
}

#[test]
fn malformed_records_are_errors_not_panics() {
    let vector = &V1_PLAIN_USERNAME;
    let claim = vector_claim(vector);
    let verify = |verifier: &SrpVerifier, challenge: &SrpChallenge, claim: &PasswordClaim<'_>| {
        verify_password_claim(vector.realm, vector.identity, verifier, challenge, claim)
    };
    let good = vector_challenge(vector);
    for b in [Vec::new(), vec![0; 32], vec![1; 385]] {
        let challenge = SrpChallenge { b, ..good.clone() };
        assert_eq!(
            verify(&vector_verifier(vector), &challenge, &claim),
            Err(SrpError::InvalidChallenge)
        );
    }
    for big_b in [Vec::new(), GROUP.modulus.to_vec()] {
        let challenge = SrpChallenge {
            big_b,
            ..good.clone()
        };
        assert_eq!(
            verify(&vector_verifier(vector), &challenge, &claim),
            Err(SrpError::InvalidChallenge)
        );
    }
    for verifier in [Vec::new(), GROUP.modulus.to_vec(), vec![0xff; 400]] {
        let verifier = SrpVerifier {
            verifier,
            ..vector_verifier(vector)
        };
        assert_eq!(
            verify(&verifier, &good, &claim),
            Err(SrpError::InvalidVerifier)
        );
        assert_eq!(
            srp_challenge(&verifier, vector.big_a, &SeededRandom::new(1)).unwrap_err(),
            SrpError::InvalidVerifier
        );
        assert!(!verifier.matches_password(vector.realm, vector.identity, vector.password));
    }
    let bad = PasswordClaim {
        secret_block_b64: "not base64!",
        ..claim
    };
    assert_eq!(
        verify(&vector_verifier(vector), &good, &bad),
        Err(SrpError::Encoding("PASSWORD_CLAIM_SECRET_BLOCK"))
    );
    let bad = PasswordClaim {
        timestamp: "yesterday",
        ..claim
    };
    assert_eq!(
        verify(&vector_verifier(vector), &good, &bad),
        Err(SrpError::Timestamp)
    );
    // Leading zero bytes in stored values change nothing.
    let padded = SrpVerifier {
        salt: [&[0, 0][..], &bytes(vector.salt)].concat(),
        verifier: [&[0][..], &bytes(vector.verifier)].concat(),
    };
    let challenge = SrpChallenge {
        big_a: [&[0][..], &good.big_a].concat(),
        big_b: [&[0][..], &good.big_b].concat(),
        ..good.clone()
    };
    assert_eq!(verify(&padded, &challenge, &claim), Ok(true));
}

#[test]
fn broken_random_source_ends_in_an_error() {
    let verifier = vector_verifier(&V1_PLAIN_USERNAME);
    assert_eq!(
        srp_challenge(&verifier, V1_PLAIN_USERNAME.big_a, &Zeros).unwrap_err(),
        SrpError::Entropy
    );
}

#[test]
fn vector_timestamps_parse_and_render_back() {
    for (text, seconds) in [
        ("Tue Jan 2 03:04:05 UTC 2024", 1_704_164_645),
        ("Sun Nov 30 23:59:09 UTC 2025", 1_764_547_149),
        ("Sat Jun 7 08:09:10 UTC 2025", 1_749_283_750),
    ] {
        assert_eq!(parse_timestamp(text), Ok(unix(seconds)), "{text}");
        assert_eq!(format_timestamp(unix(seconds)), text);
    }
    for vector in VECTORS {
        let time = parse_timestamp(vector.timestamp).unwrap();
        assert_eq!(format_timestamp(time), vector.timestamp);
    }
    // The example of the Cognito documentation.
    assert_eq!(
        parse_timestamp("Tue Sep 24 05:43:18 UTC 2019"),
        Ok(unix(1_569_303_798))
    );
}

#[test]
fn timestamp_rendering_is_canonical() {
    assert_eq!(format_timestamp(UNIX_EPOCH), "Thu Jan 1 00:00:00 UTC 1970");
    assert_eq!(
        format_timestamp(unix(951_782_400)),
        "Tue Feb 29 00:00:00 UTC 2000"
    );
    assert_eq!(
        format_timestamp(unix(253_402_300_799)),
        "Fri Dec 31 23:59:59 UTC 9999"
    );
    assert_eq!(
        format_timestamp(unix(1_704_164_645) + Duration::from_millis(999)),
        "Tue Jan 2 03:04:05 UTC 2024"
    );
    assert_eq!(
        format_timestamp(UNIX_EPOCH - Duration::from_secs(1)),
        "Wed Dec 31 23:59:59 UTC 1969"
    );
    assert_eq!(
        format_timestamp(UNIX_EPOCH - Duration::from_millis(1)),
        "Wed Dec 31 23:59:59 UTC 1969"
    );
    // Every day of a few years round-trips, weekdays included.
    let start = parse_timestamp("Sat Jan 1 12:34:56 UTC 2000").unwrap();
    for day in 0..(366 * 4) {
        let time = start + Duration::from_secs(day * 86_400);
        let text = format_timestamp(time);
        assert_eq!(parse_timestamp(&text), Ok(time), "{text}");
        let day_field = text.split(' ').nth(2).unwrap();
        assert!(!day_field.starts_with('0'), "{text}");
    }
    assert_eq!(
        parse_timestamp("Thu Jan 1 00:00:00 UTC 1970"),
        Ok(UNIX_EPOCH)
    );
    assert_eq!(
        parse_timestamp("Wed Dec 31 23:59:59 UTC 1969"),
        Ok(UNIX_EPOCH - Duration::from_secs(1))
    );
}

#[test]
fn malformed_timestamps_are_refused() {
    for text in [
        "",
        "yesterday",
        "Tue Jan 2 03:04:05 UTC",
        "Tue Jan 2 03:04:05 UTC 2024 extra",
        "Tue  Jan 2 03:04:05 UTC 2024",
        "Tue Jan 2 03:04:05 UTC 2024 ",
        " Tue Jan 2 03:04:05 UTC 2024",
        "Tue, Jan 2 03:04:05 UTC 2024",
        "Tuesday Jan 2 03:04:05 UTC 2024",
        "Tue January 2 03:04:05 UTC 2024",
        "Tue Foo 2 03:04:05 UTC 2024",
        "Die Jan 2 03:04:05 UTC 2024",
        "Tue Jan 0 03:04:05 UTC 2024",
        "Tue Jan 32 03:04:05 UTC 2024",
        "Tue Jan 002 03:04:05 UTC 2024",
        "Tue Jan +2 03:04:05 UTC 2024",
        "Thu Feb 30 03:04:05 UTC 2024",
        "Sun Feb 29 03:04:05 UTC 2023",
        "Tue Jan 2 24:04:05 UTC 2024",
        "Tue Jan 2 03:60:05 UTC 2024",
        "Tue Jan 2 03:04:60 UTC 2024",
        "Tue Jan 2 03:04 UTC 2024",
        "Tue Jan 2 03:04:05:06 UTC 2024",
        "Tue Jan 2 003:04:05 UTC 2024",
        "Tue Jan 2 03-04-05 UTC 2024",
        "Tue Jan 2 03:04:05 PST 2024",
        "Tue Jan 2 03:04:05 +0000 2024",
        "Tue Jan 2 03:04:05 UTC 24",
        "Tue Jan 2 03:04:05 UTC 20244",
        "Tue Jan 2 03:04:05 UTC -024",
        "2024-01-02T03:04:05Z",
        "Tue Jan 2 03:04:05 UTC 2024\n",
        "Tue Jan 2 03:04:05\tUTC 2024",
        "Tue Jan ２ 03:04:05 UTC 2024",
    ] {
        assert_eq!(parse_timestamp(text), Err(SrpError::Timestamp), "{text:?}");
    }
    assert_eq!(
        SrpError::Timestamp.to_string(),
        "timestamp is not of the form EEE MMM d HH:mm:ss z yyyy"
    );
}

#[test]
fn parseable_but_non_canonical_timestamps_fail_as_a_wrong_password() {
    // Each parses (Java's SimpleDateFormat is as tolerant), but Cognito signs its own rendering,
    // so a client that signed one of these strings is refused even with the right key.
    let vector = &V1_PLAIN_USERNAME;
    let key = bytes(vector.key);
    for text in [
        "Tue Jan 02 03:04:05 UTC 2024",
        "Wed Jan 2 03:04:05 UTC 2024",
        "tue jan 2 03:04:05 utc 2024",
        "Tue Jan 2 3:4:5 UTC 2024",
        "Tue Jan 2 03:04:05 GMT 2024",
    ] {
        assert_eq!(parse_timestamp(text), Ok(unix(1_704_164_645)), "{text}");
        let signature = sign_with_key(
            &key,
            vector.realm,
            vector.identity,
            vector.secret_block,
            text,
        );
        let claim = PasswordClaim {
            timestamp: text,
            signature_b64: &signature,
            ..vector_claim(vector)
        };
        assert_eq!(verify_vector(vector, &claim), Ok(false), "{text}");
    }
    // The same key and another canonical timestamp: accepted, so only the rendering differs.
    let text = "Wed Jan 3 03:04:05 UTC 2024";
    let signature = sign_with_key(
        &key,
        vector.realm,
        vector.identity,
        vector.secret_block,
        text,
    );
    let claim = PasswordClaim {
        timestamp: text,
        signature_b64: &signature,
        ..vector_claim(vector)
    };
    assert_eq!(verify_vector(vector, &claim), Ok(true));
}

#[test]
fn client_and_server_agree_over_several_seeds() {
    let pools = ["AbCdEf123", "Zz9YyXx8W", "-v7w9UcY6"];
    let users = ["alice", "3f1c2b7e-8d4a-4c6b-9e2f-0a1b2c3d4e5f", "Zoë-Ñandú"];
    let passwords = ["Correct-Horse-9!", "Pässwörd-Ω-42", " spaced out "];
    for seed in 0..6u64 {
        let random = SeededRandom::new(seed);
        let pool = pools[(seed % 3) as usize];
        let user = users[((seed / 2) % 3) as usize];
        let password = passwords[((seed + 1) % 3) as usize];
        let verifier = SrpVerifier::new(pool, user, password, &random);
        assert!(!verifier.salt.is_empty() && verifier.salt.len() <= SALT_LEN);
        let client = Client::random(&random);
        let challenge = srp_challenge(&verifier, &client.srp_a(), &random).unwrap();
        assert_eq!(challenge.b.len(), SECRET_EXPONENT_LEN);
        assert!(below_modulus(&challenge.big_b));
        let mut block = vec![0u8; 48 + seed as usize];
        random.fill(&mut block);
        let secret_block = STANDARD.encode(&block);
        let timestamp = format_timestamp(unix(1_700_000_000 + seed * 86_399));
        let (salt, big_b) = (to_hex(&verifier.salt), to_hex(&challenge.big_b));
        let right = client.sign(
            pool,
            user,
            password,
            &salt,
            &big_b,
            &secret_block,
            &timestamp,
        );
        let wrong = client.sign(
            pool,
            user,
            "not-the-password",
            &salt,
            &big_b,
            &secret_block,
            &timestamp,
        );
        for (signature, expected) in [(&right, true), (&wrong, false)] {
            let claim = PasswordClaim {
                secret_block_b64: &secret_block,
                timestamp: &timestamp,
                signature_b64: signature,
            };
            assert_eq!(
                verify_password_claim(pool, user, &verifier, &challenge, &claim),
                Ok(expected),
                "seed {seed}"
            );
        }
        // A fresh salt every time, and a verifier tied to the pool and the user.
        let again = SrpVerifier::new(pool, user, password, &random);
        assert_ne!(again.salt, verifier.salt);
        assert!(again.matches_password(pool, user, password));
        assert!(!again.matches_password("OtherPool", user, password));
    }
}

#[test]
fn debug_output_keeps_secrets_out() {
    let verifier = vector_verifier(&V1_PLAIN_USERNAME);
    let challenge = vector_challenge(&V1_PLAIN_USERNAME);
    let printed = format!("{verifier:?} {challenge:?}");
    assert!(
        !printed.contains(&V1_PLAIN_USERNAME.verifier[..16]),
        "{printed}"
    );
    assert!(!printed.contains(&V1_PLAIN_USERNAME.b[..16]), "{printed}");
    assert!(
        printed.contains(&V1_PLAIN_USERNAME.big_b[..16]),
        "{printed}"
    );
}

#[test]
fn extreme_instants_render_without_panicking() {
    let far_future = UNIX_EPOCH.checked_add(Duration::from_secs(i64::MAX.unsigned_abs() / 2));
    let far_past = UNIX_EPOCH.checked_sub(Duration::from_secs(i64::MAX.unsigned_abs() / 2));
    for time in [far_future, far_past].into_iter().flatten() {
        let text = format_timestamp(time);
        assert!(text.contains(" UTC "), "{text}");
    }
}

#[test]
fn arbitrary_input_never_panics() {
    // Random printable noise and mutations of valid values, thrown at every parser.
    let random = SeededRandom::new(99);
    let verifier = vector_verifier(&V1_PLAIN_USERNAME);
    let challenge = vector_challenge(&V1_PLAIN_USERNAME);
    let alphabet = b"0123456789abcdefABCDEF :+/=xyzJanTueUTC\x00\xff";
    for round in 0..300 {
        let mut noise = [0u8; 40];
        random.fill(&mut noise);
        let length = usize::from(noise[0]) % 40;
        let text: String = noise[..length]
            .iter()
            .map(|&byte| char::from(alphabet[usize::from(byte) % alphabet.len()]))
            .collect();
        let _ = parse_timestamp(&text);
        let _ = srp_challenge(&verifier, &text, &random);
        let _ = SrpVerifier::from_device_config(&text, &text);
        let claim = PasswordClaim {
            secret_block_b64: &text,
            timestamp: if round % 2 == 0 {
                V1_PLAIN_USERNAME.timestamp
            } else {
                &text
            },
            signature_b64: &text,
        };
        let _ = verify_password_claim("", &text, &verifier, &challenge, &claim);
        let forged = SrpChallenge {
            big_a: noise.to_vec(),
            b: noise[..length].to_vec(),
            big_b: noise[length..].to_vec(),
        };
        let _ = verify_password_claim(
            "",
            "",
            &verifier,
            &forged,
            &vector_claim(&V1_PLAIN_USERNAME),
        );
    }
}

/// The table-driven `g^x` equals the plain exponentiation for digests of every shape: zero,
/// all ones, single bits at each end, and a spread of pseudo-random values.
#[test]
fn generator_table_agrees_with_plain_exponentiation() {
    let mut samples: Vec<Vec<u8>> = vec![vec![0; 32], vec![0xff; 32]];
    let mut low = vec![0; 32];
    low[31] = 1;
    samples.push(low);
    let mut high = vec![0; 32];
    high[0] = 0x80;
    samples.push(high);
    for i in 0..12u8 {
        samples.push(sha256(&[&[i]]).to_vec());
    }
    for x in samples {
        let expected = GROUP.g.pow_bounded_exp(&exponent(&x), DIGEST_BITS);
        assert_eq!(
            generator_power(&x).retrieve(),
            expected.retrieve(),
            "{}",
            hex::encode(&x)
        );
    }
}
