//! The widget's languages: English, Korean, Japanese, Simplified Chinese and Indonesian.
//! Numbers and dates are formatted by the browser's `Intl` for the chosen locale.

use tally_app::lang::Lang;
use wasm_bindgen::JsValue;

/// The shopper's language, with the browser's formatting for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Locale(Lang);

impl Locale {
    /// `data-locale` first, then the browser's languages; English when nothing matches.
    pub fn pick(requested: Option<&str>) -> Self {
        let browser = web_sys::window().and_then(|window| window.navigator().language());
        let lang = requested.into_iter().map(str::to_owned).chain(browser).find_map(|tag| Lang::from_tag(&tag));
        Self(lang.unwrap_or_default())
    }

    /// The BCP 47 tag passed to `Intl`.
    pub fn tag(self) -> &'static str {
        self.0.tag()
    }

    pub fn number(self, value: i64) -> String {
        js_sys::Number::from(value as f64).to_locale_string(self.tag()).into()
    }

    /// An RFC 3339 time as a local date.
    pub fn date(self, rfc3339: &str) -> String {
        let date = js_sys::Date::new(&JsValue::from_str(rfc3339));
        date.to_locale_date_string(self.tag(), &JsValue::UNDEFINED).into()
    }

    /// Minor units of `currency` as money, e.g. `$5.00`.
    pub fn money(self, minor: i64, currency: &str) -> String {
        let options = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&options, &"style".into(), &"currency".into());
        let _ = js_sys::Reflect::set(&options, &"currency".into(), &currency.into());
        let locales = js_sys::Array::of1(&self.tag().into());
        let format = js_sys::Intl::NumberFormat::new(&locales, &options);
        let format = format.format();
        // Two decimal places for the currencies programs use; `Intl` rounds as the currency wants.
        format
            .call1(&JsValue::NULL, &JsValue::from_f64(minor as f64 / 100.0))
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    }

    pub fn text(self, key: Text) -> &'static str {
        use Lang::*;
        use Text::*;
        match (key, self.0) {
            (Launcher, En) => "Rewards",
            (Launcher, Ko) => "리워드",
            (Launcher, Ja) => "リワード",
            (Launcher, Zh) => "会员奖励",
            (Launcher, Id) => "Hadiah",
            (Close, En) => "Close",
            (Close, Ko) => "닫기",
            (Close, Ja) => "閉じる",
            (Close, Zh) => "关闭",
            (Close, Id) => "Tutup",
            (Available, En) => "available",
            (Available, Ko) => "사용 가능",
            (Available, Ja) => "利用可能",
            (Available, Zh) => "可用",
            (Available, Id) => "tersedia",
            (Pending, En) => "pending",
            (Pending, Ko) => "적립 예정",
            (Pending, Ja) => "保留中",
            (Pending, Zh) => "待发放",
            (Pending, Id) => "tertunda",
            (ToNextTier, En) => "to reach",
            (ToNextTier, Ko) => "더 모으면",
            (ToNextTier, Ja) => "で次のランク",
            (ToNextTier, Zh) => "即可升级至",
            (ToNextTier, Id) => "lagi untuk",
            (WaysToEarn, En) => "Ways to earn",
            (WaysToEarn, Ko) => "적립 방법",
            (WaysToEarn, Ja) => "ポイントの貯め方",
            (WaysToEarn, Zh) => "赚取方式",
            (WaysToEarn, Id) => "Cara mendapatkan",
            (RewardsTitle, En) => "Rewards",
            (RewardsTitle, Ko) => "리워드",
            (RewardsTitle, Ja) => "特典",
            (RewardsTitle, Zh) => "可兑换奖励",
            (RewardsTitle, Id) => "Hadiah",
            (Redeem, En) => "Redeem",
            (Redeem, Ko) => "사용하기",
            (Redeem, Ja) => "交換する",
            (Redeem, Zh) => "兑换",
            (Redeem, Id) => "Tukar",
            (Confirm, En) => "Confirm",
            (Confirm, Ko) => "확인",
            (Confirm, Ja) => "確定",
            (Confirm, Zh) => "确认",
            (Confirm, Id) => "Konfirmasi",
            (Cancel, En) => "Cancel",
            (Cancel, Ko) => "취소",
            (Cancel, Ja) => "キャンセル",
            (Cancel, Zh) => "取消",
            (Cancel, Id) => "Batal",
            (More, En) => "more needed",
            (More, Ko) => "더 필요",
            (More, Ja) => "不足",
            (More, Zh) => "还差",
            (More, Id) => "lagi",
            (YourCode, En) => "Your code",
            (YourCode, Ko) => "쿠폰 코드",
            (YourCode, Ja) => "クーポンコード",
            (YourCode, Zh) => "优惠码",
            (YourCode, Id) => "Kode Anda",
            (Copy, En) => "Copy",
            (Copy, Ko) => "복사",
            (Copy, Ja) => "コピー",
            (Copy, Zh) => "复制",
            (Copy, Id) => "Salin",
            (Copied, En) => "Copied",
            (Copied, Ko) => "복사됨",
            (Copied, Ja) => "コピーしました",
            (Copied, Zh) => "已复制",
            (Copied, Id) => "Tersalin",
            (YourLink, En) => "Your referral link",
            (YourLink, Ko) => "내 추천 링크",
            (YourLink, Ja) => "あなたの紹介リンク",
            (YourLink, Zh) => "您的推荐链接",
            (YourLink, Id) => "Tautan ajakan Anda",
            (ReferralLead, En) => "When a friend places a first order, you earn",
            (ReferralLead, Ko) => "친구가 첫 주문을 하면 내가 받는 적립:",
            (ReferralLead, Ja) => "友達が初めて注文すると、あなたに",
            (ReferralLead, Zh) => "好友首次下单后，您将获得",
            (ReferralLead, Id) => "Saat teman memesan pertama kali, Anda dapat",
            (FriendGets, En) => "and your friend",
            (FriendGets, Ko) => "/ 친구:",
            (FriendGets, Ja) => "、友達に",
            (FriendGets, Zh) => "，好友获得",
            (FriendGets, Id) => "dan teman Anda",
            (Email, En) => "Email",
            (Email, Ko) => "이메일",
            (Email, Ja) => "メール",
            (Email, Zh) => "邮件",
            (Email, Id) => "Email",
            (ShareMessage, En) => "Join me and earn rewards:",
            (ShareMessage, Ko) => "함께 가입하고 리워드를 받아요:",
            (ShareMessage, Ja) => "一緒に特典をもらいましょう:",
            (ShareMessage, Zh) => "和我一起赚取奖励：",
            (ShareMessage, Id) => "Ayo gabung dan dapatkan hadiah:",
            (Expires, En) => "Expires",
            (Expires, Ko) => "만료일",
            (Expires, Ja) => "有効期限",
            (Expires, Zh) => "有效期至",
            (Expires, Id) => "Berlaku hingga",
            (ExpiringSoon, En) => "expire within 30 days",
            (ExpiringSoon, Ko) => "30일 이내 소멸 예정",
            (ExpiringSoon, Ja) => "30日以内に失効",
            (ExpiringSoon, Zh) => "将在30天内过期",
            (ExpiringSoon, Id) => "kedaluwarsa dalam 30 hari",
            (GuestLead, En) => "Join to earn on every order and redeem rewards.",
            (GuestLead, Ko) => "가입하고 주문마다 적립하고 리워드를 받으세요.",
            (GuestLead, Ja) => "参加すると、注文ごとにポイントが貯まり特典と交換できます。",
            (GuestLead, Zh) => "加入会员，每笔订单都能赚取积分并兑换奖励。",
            (GuestLead, Id) => "Bergabunglah untuk mendapatkan poin di setiap pesanan dan menukar hadiah.",
            (Join, En) => "Join now",
            (Join, Ko) => "지금 가입하기",
            (Join, Ja) => "今すぐ参加",
            (Join, Zh) => "立即加入",
            (Join, Id) => "Gabung sekarang",
            (SignIn, En) => "Already a member? Sign in",
            (SignIn, Ko) => "이미 회원이신가요? 로그인",
            (SignIn, Ja) => "会員の方はログイン",
            (SignIn, Zh) => "已是会员？登录",
            (SignIn, Id) => "Sudah menjadi anggota? Masuk",
            (Unavailable, En) => "Rewards are unavailable right now.",
            (Unavailable, Ko) => "지금은 리워드를 불러올 수 없습니다.",
            (Unavailable, Ja) => "現在リワードを表示できません。",
            (Unavailable, Zh) => "暂时无法加载奖励。",
            (Unavailable, Id) => "Hadiah sedang tidak tersedia.",
            (TryAgain, En) => "Try again",
            (TryAgain, Ko) => "다시 시도",
            (TryAgain, Ja) => "再試行",
            (TryAgain, Zh) => "重试",
            (TryAgain, Id) => "Coba lagi",
            (CheckoutPending, En) => "The store is setting up this code: it works at checkout in a moment.",
            (CheckoutPending, Ko) => "매장에서 이 코드를 준비하고 있어요. 잠시 후 결제할 때 사용할 수 있어요.",
            (CheckoutPending, Ja) => "ストアでこのコードを準備しています。まもなくチェックアウトで使えます。",
            (CheckoutPending, Zh) => "商店正在设置此优惠码，稍后即可在结账时使用。",
            (CheckoutPending, Id) => "Toko sedang menyiapkan kode ini: sebentar lagi bisa dipakai saat checkout.",
            (CheckoutFailed, En) => "The store has not accepted this code yet. If checkout refuses it, contact the store.",
            (CheckoutFailed, Ko) => "매장에서 아직 이 코드를 등록하지 못했어요. 결제할 때 적용되지 않으면 매장에 문의하세요.",
            (CheckoutFailed, Ja) => "ストアがまだこのコードを登録できていません。チェックアウトで使えない場合はストアにお問い合わせください。",
            (CheckoutFailed, Zh) => "商店尚未登记此优惠码。如结账时无法使用，请联系商店。",
            (CheckoutFailed, Id) => "Toko belum menerima kode ini. Jika tidak bisa dipakai saat checkout, hubungi toko.",
            (MyCoupons, En) => "My coupons",
            (MyCoupons, Ko) => "내 쿠폰",
            (MyCoupons, Ja) => "マイクーポン",
            (MyCoupons, Zh) => "我的优惠券",
            (MyCoupons, Id) => "Kupon saya",
            (History, En) => "Points history",
            (History, Ko) => "포인트 내역",
            (History, Ja) => "ポイント履歴",
            (History, Zh) => "积分记录",
            (History, Id) => "Riwayat poin",
            (ShowMore, En) => "Show more",
            (ShowMore, Ko) => "더 보기",
            (ShowMore, Ja) => "もっと見る",
            (ShowMore, Zh) => "显示更多",
            (ShowMore, Id) => "Lihat lagi",
            (PerPurchase, En) => "per",
            (PerPurchase, Ko) => "/",
            (PerPurchase, Ja) => "/",
            (PerPurchase, Zh) => "/",
            (PerPurchase, Id) => "per",
        }
    }

    /// The name of a way to earn.
    pub fn action(self, action: &str) -> String {
        let known = match (action, self.0) {
            ("purchase", Lang::En) => "Shop",
            ("purchase", Lang::Ko) => "구매",
            ("purchase", Lang::Ja) => "お買い物",
            ("purchase", Lang::Zh) => "购物",
            ("purchase", Lang::Id) => "Belanja",
            ("signup", Lang::En) => "Create an account",
            ("signup", Lang::Ko) => "회원 가입",
            ("signup", Lang::Ja) => "会員登録",
            ("signup", Lang::Zh) => "注册账户",
            ("signup", Lang::Id) => "Buat akun",
            ("review", Lang::En) => "Write a review",
            ("review", Lang::Ko) => "리뷰 작성",
            ("review", Lang::Ja) => "レビューを書く",
            ("review", Lang::Zh) => "发表评价",
            ("review", Lang::Id) => "Tulis ulasan",
            ("birthday", Lang::En) => "Birthday",
            ("birthday", Lang::Ko) => "생일",
            ("birthday", Lang::Ja) => "誕生日",
            ("birthday", Lang::Zh) => "生日",
            ("birthday", Lang::Id) => "Ulang tahun",
            ("referral", Lang::En) => "Refer a friend",
            ("referral", Lang::Ko) => "친구 추천",
            ("referral", Lang::Ja) => "友達紹介",
            ("referral", Lang::Zh) => "推荐好友",
            ("referral", Lang::Id) => "Ajak teman",
            ("social_follow", Lang::En) => "Follow us",
            ("social_follow", Lang::Ko) => "팔로우",
            ("social_follow", Lang::Ja) => "フォローする",
            ("social_follow", Lang::Zh) => "关注我们",
            ("social_follow", Lang::Id) => "Ikuti kami",
            ("newsletter", Lang::En) => "Join the newsletter",
            ("newsletter", Lang::Ko) => "뉴스레터 구독",
            ("newsletter", Lang::Ja) => "ニュースレター登録",
            ("newsletter", Lang::Zh) => "订阅新闻",
            ("newsletter", Lang::Id) => "Langganan buletin",
            ("comment", Lang::En) => "Leave a comment",
            ("comment", Lang::Ko) => "댓글 작성",
            ("comment", Lang::Ja) => "コメントする",
            ("comment", Lang::Zh) => "发表评论",
            ("comment", Lang::Id) => "Beri komentar",
            ("reward", Lang::En) => "Reward",
            ("reward", Lang::Ko) => "리워드 교환",
            ("reward", Lang::Ja) => "特典と交換",
            ("reward", Lang::Zh) => "兑换奖励",
            ("reward", Lang::Id) => "Tukar hadiah",
            ("admin", Lang::En) => "Adjustment",
            ("admin", Lang::Ko) => "조정",
            ("admin", Lang::Ja) => "調整",
            ("admin", Lang::Zh) => "调整",
            ("admin", Lang::Id) => "Penyesuaian",
            ("expiry", Lang::En) => "Expired",
            ("expiry", Lang::Ko) => "소멸",
            ("expiry", Lang::Ja) => "失効",
            ("expiry", Lang::Zh) => "已过期",
            ("expiry", Lang::Id) => "Kedaluwarsa",
            _ => return action.strip_prefix("custom:").unwrap_or(action).replace(['_', '-'], " "),
        };
        known.to_owned()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Text {
    Launcher,
    Close,
    Available,
    Pending,
    ToNextTier,
    WaysToEarn,
    RewardsTitle,
    Redeem,
    Confirm,
    Cancel,
    More,
    YourCode,
    Copy,
    Copied,
    YourLink,
    ReferralLead,
    FriendGets,
    Email,
    ShareMessage,
    Expires,
    ExpiringSoon,
    GuestLead,
    Join,
    SignIn,
    Unavailable,
    TryAgain,
    PerPurchase,
    MyCoupons,
    CheckoutPending,
    CheckoutFailed,
    History,
    ShowMore,
}
