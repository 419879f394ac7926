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
