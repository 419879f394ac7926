<?php
/**
 * The widget's script tag on every storefront page: the program's publishable key, the
 * shopper's language, and for a signed-in customer a token signed here on the server (the
 * guest view otherwise).
 *
 * @package TallyLoyalty
 */

defined( 'ABSPATH' ) || exit;

/** Prints the widget's script tag. */
final class Tally_Loyalty_Widget {
	/** WordPress locales the widget speaks, by the widget's language code. */
	const LANGUAGES = array(
		'ko' => 'ko',
		'ja' => 'ja',
		'zh' => 'zh-CN',
		'id' => 'id',
		'en' => 'en',
	);

	/** `wp_footer`: prints the tag once Tally's address and the publishable key are known. */
	public static function print_script_tag() {
		$attributes = self::attributes( Tally_Loyalty_Settings::get(), is_user_logged_in() ? wp_get_current_user() : null, time() );
		if ( null !== $attributes ) {
			wp_print_script_tag( $attributes );
		}
	}

	/**
	 * The script tag's attributes, or null while the plugin is not set up.
	 *
	 * @param array        $settings The saved settings.
	 * @param WP_User|null $user     The signed-in customer.
	 * @param int          $now      Unix time in seconds.
	 * @return array|null
	 */
	public static function attributes( array $settings, $user, $now ) {
		if ( '' === $settings['tally_url'] || '' === $settings['publishable_key'] ) {
			return null;
		}
		$attributes = array(
			'src'          => $settings['tally_url'] . '/widget.js',
			'data-program' => $settings['publishable_key'],
			'async'        => true,
		);
		$locale = null !== $user ? get_user_locale( $user ) : determine_locale();
		$language = self::language( $locale );
		if ( null !== $language ) {
			$attributes['data-locale'] = $language;
		}
		if ( null !== $user && $user->ID > 0 && '' !== $settings['widget_secret'] ) {
			$attributes['data-customer-token'] = Tally_Loyalty_Token::for_customer(
				$user->ID,
				$user->user_email,
				$user->display_name,
				$settings['widget_secret'],
				$now
			);
		}
		return $attributes;
	}

	/**
	 * `woocommerce_checkout_create_order` (classic checkout) and
	 * `woocommerce_store_api_checkout_update_order_from_request` (block checkout): the referral
	 * code the widget kept for this visitor (the first-party `tally_ref` cookie) goes into the
	 * order's meta data as `_tally_ref`, which the order webhook carries to Tally.
	 *
	 * @param WC_Order $order The order being placed.
	 */
	public static function attach_referral( $order ) {
		$code = self::referral_code( $_COOKIE ); // phpcs:ignore WordPress.Security.ValidatedSanitizedInput -- checked below.
		if ( null !== $code ) {
			$order->update_meta_data( '_tally_ref', $code );
		}
	}

	/**
	 * The referral code in the visitor's cookies, or null: letters and digits only (Tally
	 * checks the code itself).
	 *
	 * @param array $cookies The request's cookies.
	 * @return string|null
	 */
	public static function referral_code( array $cookies ) {
		$code = isset( $cookies['tally_ref'] ) && is_string( $cookies['tally_ref'] ) ? trim( wp_unslash( $cookies['tally_ref'] ) ) : '';
		return 1 === preg_match( '/^[A-Za-z0-9]{1,32}$/', $code ) ? strtoupper( $code ) : null;
	}

	/**
	 * The widget's language for a WordPress locale (`ko_KR`, `zh_TW`, `en_US`), or null for a
	 * language the widget does not speak (it then follows the browser).
	 *
	 * @param string $locale A WordPress locale.
	 * @return string|null
	 */
	public static function language( $locale ) {
		$language = strtolower( substr( (string) $locale, 0, 2 ) );
		if ( 'zh' === $language && 'zh_CN' !== $locale && 'zh_SG' !== $locale ) {
			return null;
		}
		return isset( self::LANGUAGES[ $language ] ) ? self::LANGUAGES[ $language ] : null;
	}
}
