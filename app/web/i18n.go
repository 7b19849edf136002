package web

import (
	"sort"
	"strconv"
	"strings"
)

// pickLanguage chooses English, Indonesian or Vietnamese from an
// Accept-Language header (RFC 9110 §12.5.4), English by default.
func pickLanguage(header string) string {
	type pref struct {
		lang string
		q    float64
		i    int
	}
	var prefs []pref
	for i, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if k, v, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.TrimSpace(k) == "q" {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		primary, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if _, ok := messages[primary]; ok && q > 0 {
			prefs = append(prefs, pref{primary, q, i})
		}
	}
	sort.SliceStable(prefs, func(a, b int) bool { return prefs[a].q > prefs[b].q })
	if len(prefs) == 0 {
		return "en"
	}
	return prefs[0].lang
}

// format fills the first %s of a message.
func format(msg, arg string) string { return strings.Replace(msg, "%s", arg, 1) }

// messages are the pages' texts by language.
var messages = map[string]map[string]string{
	"en": {
		"title_verify": "Check your email", "email_code": "6-digit code from the email",
		"verify_text":          "To keep your account safe, we emailed you a 6-digit code. Enter it to finish signing in.",
		"verify_restart":       "No email? Sign in again to get a new code.",
		"err_code_digits":      "Enter the 6 digits from the email.",
		"err_verify_expired":   "The emailed code expired or was tried too many times. Sign in again to get a new one.",
		"title_logout_confirm": "Sign out?", "logout_confirm_text": "An application asked to sign you out of Gatehouse.",
		"use_security_key": "Use your security key or passkey",
		"passkey_sign_in":  "Sign in with a passkey", "add_passkey": "Add a passkey", "passkey_added": "Passkey added. You can sign in with it now.",
		"err_passkey": "The passkey was not accepted. Try again or use your password.",
		"title_login": "Sign in", "title_mfa": "Second factor", "title_signup": "Create an account",
		"title_forgot": "Forgot your password?", "title_reset": "Choose a new password", "title_consent": "Allow access?",
		"title_signed_out": "Signed out", "title_error": "Something went wrong", "title_account": "Your account",
		"title_notice": "Done",
		"email":        "Email address", "password": "Password", "new_password": "New password",
		"sign_in": "Sign in", "sign_up": "Create an account", "no_account": "No account yet?", "forgot": "Forgot your password?",
		"continue_to": "to continue to %s", "totp_code": "Code from your authenticator app", "recovery_code": "Recovery code",
		"verify": "Verify", "or_recovery": "Lost your authenticator? Use a recovery code instead.",
		"signup_hint": "At least 8 characters. Long passphrases are best.", "create": "Create account",
		"forgot_text": "Enter your email address and we will send you a link to choose a new password.",
		"send_link":   "Send link", "forgot_sent": "If an account uses that address, a link to reset its password is on its way.",
		"reset_done": "Your password was changed. Sign in with the new one.", "set_password": "Set password",
		"consent_text": "%s would like to:", "scope_openid": "Know who you are", "scope_profile": "See your basic profile",
		"scope_email": "See your email address", "scope_offline_access": "Stay signed in when you are not using it",
		"allow": "Allow", "deny": "Deny", "signed_out_text": "You are signed out of Gatehouse.", "back_sign_in": "Sign in again",
		"error_text": "The request could not be completed.", "status": "Status",
		"sessions": "Where you are signed in", "devices": "Trusted devices", "factors": "Second factors", "apps": "Apps with access",
		"current": "this browser", "end": "End", "sign_out": "Sign out", "sign_out_everywhere": "Sign out everywhere",
		"enable_totp": "Set up an authenticator app", "totp_scan": "Scan this code with your authenticator app, or enter the key by hand:",
		"confirm": "Confirm", "recovery_codes": "Recovery codes", "regenerate": "Make new recovery codes",
		"recovery_shown_once": "Keep these codes somewhere safe. They are shown only once.", "revoke": "Revoke",
		"none": "None", "totp_enabled": "Authenticator app is on.", "signed_in_as": "Signed in as %s",
		"err_invalid_credentials": "The email address or password is wrong.",
		"err_locked":              "This account is locked for now after too many failed attempts. Try again in %s seconds.",
		"err_rate_limited":        "Too many attempts. Wait %s seconds and try again.",
		"err_overloaded":          "Gatehouse is very busy right now. Try again in %s seconds.",
		"err_challenge":           "Please wait while your browser proves it is not a robot…",
		"err_invalid_code":        "That code is wrong, expired or already used.",
		"err_mfa_expired":         "The sign-in took too long. Please start again.",
		"err_csrf":                "This form expired or came from another site. Go back, reload the page and try again.",
		"err_disabled":            "This account is disabled.", "err_reset_required": "This password must be reset before it can be used. Use “Forgot your password?”.",
		"err_generic": "Something went wrong. Please try again.", "err_invalid_request": "The application sent an invalid request.",
		"err_invalid_client":       "The application that sent you here is not registered.",
		"err_invalid_redirect_uri": "The application asked to send you to an address it has not registered, so you were not sent there.",
		"err_login_required":       "Please sign in.", "err_password_policy": "That password cannot be used: %s",
		"err_invalid_email": "Enter a valid email address.", "err_reset_token": "This reset link is invalid, used or expired.",
		"err_aal2": "The application needs a second factor, and this account has none.",
	},
	"id": {
		"title_verify": "Periksa email Anda", "email_code": "Kode 6 digit dari email",
		"verify_text":          "Demi keamanan akun Anda, kami mengirim kode 6 digit ke email Anda. Masukkan kode itu untuk menyelesaikan proses masuk.",
		"verify_restart":       "Tidak menerima email? Masuk lagi untuk mendapatkan kode baru.",
		"err_code_digits":      "Masukkan 6 digit dari email.",
		"err_verify_expired":   "Kode dari email sudah kedaluwarsa atau terlalu sering dicoba. Masuk lagi untuk mendapatkan kode baru.",
		"title_logout_confirm": "Keluar?", "logout_confirm_text": "Sebuah aplikasi meminta agar Anda keluar dari Gatehouse.",
		"use_security_key": "Gunakan kunci keamanan atau passkey Anda",
		"passkey_sign_in":  "Masuk dengan passkey", "add_passkey": "Tambahkan passkey", "passkey_added": "Passkey ditambahkan. Sekarang Anda dapat masuk dengannya.",
		"err_passkey": "Passkey tidak diterima. Coba lagi atau gunakan kata sandi Anda.",
		"title_login": "Masuk", "title_mfa": "Faktor kedua", "title_signup": "Buat akun",
		"title_forgot": "Lupa kata sandi?", "title_reset": "Pilih kata sandi baru", "title_consent": "Izinkan akses?",
		"title_signed_out": "Sudah keluar", "title_error": "Terjadi kesalahan", "title_account": "Akun Anda", "title_notice": "Selesai",
		"email": "Alamat email", "password": "Kata sandi", "new_password": "Kata sandi baru",
		"sign_in": "Masuk", "sign_up": "Buat akun", "no_account": "Belum punya akun?", "forgot": "Lupa kata sandi?",
		"continue_to": "untuk melanjutkan ke %s", "totp_code": "Kode dari aplikasi autentikator", "recovery_code": "Kode pemulihan",
		"verify": "Verifikasi", "or_recovery": "Kehilangan autentikator? Gunakan kode pemulihan.",
		"signup_hint": "Minimal 8 karakter. Frasa sandi yang panjang paling baik.", "create": "Buat akun",
		"forgot_text": "Masukkan alamat email Anda dan kami akan mengirim tautan untuk memilih kata sandi baru.",
		"send_link":   "Kirim tautan", "forgot_sent": "Jika ada akun dengan alamat itu, tautan untuk mengatur ulang kata sandinya sedang dikirim.",
		"reset_done": "Kata sandi Anda telah diubah. Masuk dengan kata sandi baru.", "set_password": "Simpan kata sandi",
		"consent_text": "%s ingin:", "scope_openid": "Mengetahui siapa Anda", "scope_profile": "Melihat profil dasar Anda",
		"scope_email": "Melihat alamat email Anda", "scope_offline_access": "Tetap masuk saat Anda tidak menggunakannya",
		"allow": "Izinkan", "deny": "Tolak", "signed_out_text": "Anda telah keluar dari Gatehouse.", "back_sign_in": "Masuk lagi",
		"error_text": "Permintaan tidak dapat diselesaikan.", "status": "Status",
		"sessions": "Tempat Anda masuk", "devices": "Perangkat tepercaya", "factors": "Faktor kedua", "apps": "Aplikasi dengan akses",
		"current": "browser ini", "end": "Akhiri", "sign_out": "Keluar", "sign_out_everywhere": "Keluar dari semua perangkat",
		"enable_totp": "Siapkan aplikasi autentikator", "totp_scan": "Pindai kode ini dengan aplikasi autentikator, atau masukkan kuncinya:",
		"confirm": "Konfirmasi", "recovery_codes": "Kode pemulihan", "regenerate": "Buat kode pemulihan baru",
		"recovery_shown_once": "Simpan kode ini di tempat aman. Kode hanya ditampilkan sekali.", "revoke": "Cabut",
		"none": "Tidak ada", "totp_enabled": "Aplikasi autentikator aktif.", "signed_in_as": "Masuk sebagai %s",
		"err_invalid_credentials": "Alamat email atau kata sandi salah.",
		"err_locked":              "Akun ini dikunci sementara karena terlalu banyak percobaan gagal. Coba lagi dalam %s detik.",
		"err_rate_limited":        "Terlalu banyak percobaan. Tunggu %s detik lalu coba lagi.",
		"err_overloaded":          "Gatehouse sedang sangat sibuk. Coba lagi dalam %s detik.",
		"err_challenge":           "Mohon tunggu, browser Anda sedang membuktikan bahwa Anda bukan robot…",
		"err_invalid_code":        "Kode salah, kedaluwarsa, atau sudah digunakan.",
		"err_mfa_expired":         "Proses masuk terlalu lama. Silakan mulai lagi.",
		"err_csrf":                "Formulir ini kedaluwarsa atau berasal dari situs lain. Kembali, muat ulang halaman, lalu coba lagi.",
		"err_disabled":            "Akun ini dinonaktifkan.", "err_reset_required": "Kata sandi ini harus diatur ulang sebelum dapat digunakan. Gunakan “Lupa kata sandi?”.",
		"err_generic": "Terjadi kesalahan. Silakan coba lagi.", "err_invalid_request": "Aplikasi mengirim permintaan yang tidak valid.",
		"err_invalid_client":       "Aplikasi yang mengarahkan Anda ke sini tidak terdaftar.",
		"err_invalid_redirect_uri": "Aplikasi meminta mengarahkan Anda ke alamat yang tidak terdaftar, jadi Anda tidak diarahkan ke sana.",
		"err_login_required":       "Silakan masuk.", "err_password_policy": "Kata sandi itu tidak dapat digunakan: %s",
		"err_invalid_email": "Masukkan alamat email yang valid.", "err_reset_token": "Tautan atur ulang ini tidak valid, sudah digunakan, atau kedaluwarsa.",
		"err_aal2": "Aplikasi memerlukan faktor kedua, dan akun ini tidak memilikinya.",
	},
	"vi": {
		"title_verify": "Kiểm tra email của bạn", "email_code": "Mã 6 chữ số trong email",
		"verify_text":          "Để bảo vệ tài khoản, chúng tôi đã gửi mã gồm 6 chữ số đến email của bạn. Hãy nhập mã để hoàn tất đăng nhập.",
		"verify_restart":       "Không nhận được email? Hãy đăng nhập lại để nhận mã mới.",
		"err_code_digits":      "Hãy nhập 6 chữ số trong email.",
		"err_verify_expired":   "Mã trong email đã hết hạn hoặc bị nhập sai quá nhiều lần. Hãy đăng nhập lại để nhận mã mới.",
		"title_logout_confirm": "Đăng xuất?", "logout_confirm_text": "Một ứng dụng yêu cầu đăng xuất bạn khỏi Gatehouse.",
		"use_security_key": "Dùng khóa bảo mật hoặc passkey của bạn",
		"passkey_sign_in":  "Đăng nhập bằng passkey", "add_passkey": "Thêm passkey", "passkey_added": "Đã thêm passkey. Giờ bạn có thể đăng nhập bằng nó.",
		"err_passkey": "Passkey không được chấp nhận. Hãy thử lại hoặc dùng mật khẩu.",
		"title_login": "Đăng nhập", "title_mfa": "Yếu tố thứ hai", "title_signup": "Tạo tài khoản",
		"title_forgot": "Quên mật khẩu?", "title_reset": "Chọn mật khẩu mới", "title_consent": "Cho phép truy cập?",
		"title_signed_out": "Đã đăng xuất", "title_error": "Đã xảy ra lỗi", "title_account": "Tài khoản của bạn", "title_notice": "Xong",
		"email": "Địa chỉ email", "password": "Mật khẩu", "new_password": "Mật khẩu mới",
		"sign_in": "Đăng nhập", "sign_up": "Tạo tài khoản", "no_account": "Chưa có tài khoản?", "forgot": "Quên mật khẩu?",
		"continue_to": "để tiếp tục đến %s", "totp_code": "Mã từ ứng dụng xác thực", "recovery_code": "Mã khôi phục",
		"verify": "Xác minh", "or_recovery": "Mất ứng dụng xác thực? Hãy dùng mã khôi phục.",
		"signup_hint": "Ít nhất 8 ký tự. Cụm mật khẩu dài là tốt nhất.", "create": "Tạo tài khoản",
		"forgot_text": "Nhập địa chỉ email, chúng tôi sẽ gửi liên kết để bạn chọn mật khẩu mới.",
		"send_link":   "Gửi liên kết", "forgot_sent": "Nếu có tài khoản dùng địa chỉ đó, liên kết đặt lại mật khẩu đang được gửi đến.",
		"reset_done": "Mật khẩu của bạn đã được đổi. Hãy đăng nhập bằng mật khẩu mới.", "set_password": "Lưu mật khẩu",
		"consent_text": "%s muốn:", "scope_openid": "Biết bạn là ai", "scope_profile": "Xem hồ sơ cơ bản của bạn",
		"scope_email": "Xem địa chỉ email của bạn", "scope_offline_access": "Duy trì đăng nhập khi bạn không sử dụng",
		"allow": "Cho phép", "deny": "Từ chối", "signed_out_text": "Bạn đã đăng xuất khỏi Gatehouse.", "back_sign_in": "Đăng nhập lại",
		"error_text": "Không thể hoàn tất yêu cầu.", "status": "Trạng thái",
		"sessions": "Nơi bạn đang đăng nhập", "devices": "Thiết bị tin cậy", "factors": "Yếu tố thứ hai", "apps": "Ứng dụng có quyền truy cập",
		"current": "trình duyệt này", "end": "Kết thúc", "sign_out": "Đăng xuất", "sign_out_everywhere": "Đăng xuất khỏi mọi nơi",
		"enable_totp": "Thiết lập ứng dụng xác thực", "totp_scan": "Quét mã này bằng ứng dụng xác thực, hoặc nhập khóa thủ công:",
		"confirm": "Xác nhận", "recovery_codes": "Mã khôi phục", "regenerate": "Tạo mã khôi phục mới",
		"recovery_shown_once": "Hãy cất các mã này ở nơi an toàn. Chúng chỉ hiển thị một lần.", "revoke": "Thu hồi",
		"none": "Không có", "totp_enabled": "Ứng dụng xác thực đang bật.", "signed_in_as": "Đăng nhập với %s",
		"err_invalid_credentials": "Địa chỉ email hoặc mật khẩu không đúng.",
		"err_locked":              "Tài khoản tạm thời bị khóa do quá nhiều lần thử sai. Hãy thử lại sau %s giây.",
		"err_rate_limited":        "Quá nhiều lần thử. Hãy đợi %s giây rồi thử lại.",
		"err_overloaded":          "Gatehouse đang rất bận. Hãy thử lại sau %s giây.",
		"err_challenge":           "Vui lòng đợi trong khi trình duyệt chứng minh bạn không phải robot…",
		"err_invalid_code":        "Mã không đúng, đã hết hạn hoặc đã được dùng.",
		"err_mfa_expired":         "Quá trình đăng nhập quá lâu. Vui lòng bắt đầu lại.",
		"err_csrf":                "Biểu mẫu này đã hết hạn hoặc đến từ trang khác. Hãy quay lại, tải lại trang và thử lại.",
		"err_disabled":            "Tài khoản này đã bị vô hiệu hóa.", "err_reset_required": "Mật khẩu này phải được đặt lại trước khi dùng. Hãy chọn “Quên mật khẩu?”.",
		"err_generic": "Đã xảy ra lỗi. Vui lòng thử lại.", "err_invalid_request": "Ứng dụng đã gửi một yêu cầu không hợp lệ.",
		"err_invalid_client":       "Ứng dụng đưa bạn đến đây chưa được đăng ký.",
		"err_invalid_redirect_uri": "Ứng dụng yêu cầu chuyển bạn đến một địa chỉ chưa đăng ký, nên bạn không được chuyển đến đó.",
		"err_login_required":       "Vui lòng đăng nhập.", "err_password_policy": "Không thể dùng mật khẩu đó: %s",
		"err_invalid_email": "Hãy nhập địa chỉ email hợp lệ.", "err_reset_token": "Liên kết đặt lại này không hợp lệ, đã dùng hoặc đã hết hạn.",
		"err_aal2": "Ứng dụng yêu cầu yếu tố thứ hai, nhưng tài khoản này chưa có.",
	},
}
