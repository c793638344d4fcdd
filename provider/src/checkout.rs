//! The buyer-facing pages: checkout (Pay / Decline), done, and messages. Self-contained HTML
//! (no scripts, no CDN), Korean and English, plain forms so the keyboard works everywhere.

use crate::{payment::PaymentStatus, state::Payment};

/// What the buyer reads about a canceled payment.
pub(crate) const CANCELED_MESSAGE: &str = "이 결제는 취소되어 더 이상 진행할 수 없습니다. 좌석 예약은 Seatline에서 다시 시작해 주세요. / This payment was canceled and can no longer be made. Please start again from Seatline.";

/// `₩1,234,000`.
pub(crate) fn format_krw(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let sign = if amount < 0 { "-" } else { "" };
    format!("{sign}₩{grouped}")
}

pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f3f4f6; color: #111827; line-height: 1.5;
  font-family: system-ui, -apple-system, "Segoe UI", "Apple SD Gothic Neo", "Noto Sans KR", "Malgun Gothic", sans-serif; }
main { max-width: 30rem; margin: 3rem auto; padding: 2rem; background: #ffffff;
  border: 1px solid #d1d5db; border-radius: 12px; }
.brand { margin: 0 0 1rem; color: #374151; font-size: .875rem; font-weight: 600; letter-spacing: .02em; }
h1 { margin: 0 0 1rem; font-size: 1.375rem; }
.label { margin: 0; color: #374151; }
.amount { margin: .25rem 0 1.25rem; font-size: 2.25rem; font-weight: 700; }
dl { display: grid; grid-template-columns: auto 1fr; gap: .375rem 1rem; margin: 0 0 1.5rem; }
dt { color: #374151; }
dd { margin: 0; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; word-break: break-all; }
.actions { display: flex; gap: .75rem; }
.actions form { flex: 1; margin: 0; }
button { width: 100%; padding: .875rem 1rem; font: inherit; font-weight: 700; border-radius: 8px;
  border: 2px solid transparent; cursor: pointer; }
.pay { background: #1d4ed8; color: #ffffff; }
.pay:hover { background: #1e40af; }
.decline { background: #ffffff; color: #991b1b; border-color: #991b1b; }
.decline:hover { background: #fef2f2; }
button:focus-visible, a:focus-visible { outline: 3px solid #b45309; outline-offset: 3px; }
.notice { margin: 0 0 1.25rem; padding: .75rem 1rem; border-radius: 8px; background: #fef3c7; color: #78350f; }
.note { margin: 1.5rem 0 0; color: #4b5563; font-size: .875rem; }
a { color: #1d4ed8; font-weight: 600; }
"#;

fn page(title: &str, content: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{STYLE}</style>
</head>
<body>
<main>
<p class="brand">Seatline Mock Pay · 모의 결제</p>
{content}
</main>
</body>
</html>
"#
    )
}

fn details(payment: &Payment) -> String {
    format!(
        r#"<dl>
<dt>예약 번호 / Reservation</dt><dd data-testid="provider-reservation">{reservation}</dd>
<dt>결제 번호 / Payment</dt><dd>{payment_id}</dd>
<dt>상태 / Status</dt><dd data-testid="provider-status">{status}</dd>
</dl>"#,
        reservation = escape(&payment.request.reservation_id),
        payment_id = escape(&payment.payment_id),
        status = payment.status.as_str(),
    )
}

fn amount(payment: &Payment) -> String {
    format!(
        r#"<p class="label">결제 금액 / Amount</p>
<p class="amount" data-testid="provider-amount">{}</p>"#,
        format_krw(payment.request.amount)
    )
}

fn return_link(payment: &Payment) -> String {
    match &payment.request.return_url {
        Some(url) => format!(
            r#"<p><a href="{}">Seatline으로 돌아가기 / Back to Seatline</a></p>"#,
            escape(url)
        ),
        None => String::new(),
    }
}

/// `GET /checkout/{payment_id}`.
pub(crate) fn checkout_page(payment: &Payment) -> String {
    let id = escape(&payment.payment_id);
    let body = match payment.status {
        PaymentStatus::Succeeded => format!(
            r#"<h1>결제 완료 / Payment complete</h1>
{amount}
{details}
<p>이 결제는 이미 완료되었습니다. / This payment has already been made.</p>
{back}"#,
            amount = amount(payment),
            details = details(payment),
            back = return_link(payment),
        ),
        PaymentStatus::Canceled => format!(
            r#"<h1>취소된 결제 / Payment canceled</h1>
{amount}
{details}
<p>{message}</p>
{back}"#,
            amount = amount(payment),
            details = details(payment),
            message = escape(CANCELED_MESSAGE),
            back = return_link(payment),
        ),
        PaymentStatus::Pending | PaymentStatus::Failed => {
            let notice = if payment.status == PaymentStatus::Failed {
                r#"<p class="notice" role="status">이전 결제가 거절되었습니다. 다른 카드로 다시 시도할 수 있습니다. / The previous attempt was declined; you can try again with another card.</p>"#
            } else {
                ""
            };
            format!(
                r#"<h1>카드 결제 / Card payment</h1>
{notice}
{amount}
{details}
<div class="actions">
<form method="post" action="{id}/succeed"><button type="submit" class="pay" data-testid="provider-succeed">Pay / 결제</button></form>
<form method="post" action="{id}/fail"><button type="submit" class="decline" data-testid="provider-fail">Decline / 거절</button></form>
</div>
<p class="note">모의 결제 화면입니다. 실제 카드는 청구되지 않습니다. / This is a simulated payment: no card is charged.</p>"#,
                amount = amount(payment),
                details = details(payment),
            )
        }
    };
    page("결제 / Checkout — Seatline Mock Pay", &body)
}

/// Where the buyer lands after Pay / Decline when the payment has no `return_url`.
pub(crate) fn done_page(payment: &Payment) -> String {
    let heading = match payment.status {
        PaymentStatus::Succeeded => "결제 완료 / Payment complete",
        PaymentStatus::Failed => "결제 거절 / Payment declined",
        PaymentStatus::Pending => "결제 대기 중 / Payment pending",
        PaymentStatus::Canceled => "결제 취소 / Payment canceled",
    };
    let body = format!(
        "<h1>{heading}</h1>\n{amount}\n{details}\n{back}",
        amount = amount(payment),
        details = details(payment),
        back = return_link(payment),
    );
    page(heading, &body)
}

/// A short page for errors on the buyer's side (unknown payment, refused completion).
pub(crate) fn message_page(heading: &str, message: &str, payment: Option<&Payment>) -> String {
    let back = payment.map(return_link).unwrap_or_default();
    let body = format!(
        "<h1>{}</h1>\n<p>{}</p>\n{back}",
        escape(heading),
        escape(message)
    );
    page(heading, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn won_with_thousands_separators() {
        assert_eq!(format_krw(0), "₩0");
        assert_eq!(format_krw(7), "₩7");
        assert_eq!(format_krw(999), "₩999");
        assert_eq!(format_krw(1_000), "₩1,000");
        assert_eq!(format_krw(165_000), "₩165,000");
        assert_eq!(format_krw(1_234_567), "₩1,234,567");
        assert_eq!(format_krw(-12_000), "-₩12,000");
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
