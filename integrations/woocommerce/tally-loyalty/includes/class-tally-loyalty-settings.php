<?php
/**
 * The plugin's settings: where Tally is, the program's keys, and the connection the "Connect"
 * button made. One option, `tally_loyalty_settings`, not autoloaded on every page for nothing:
 * the storefront reads it once per page for the script tag.
 *
 * @package TallyLoyalty
 */

defined( 'ABSPATH' ) || exit;

/** Reads, validates and saves the settings. */
final class Tally_Loyalty_Settings {
	const OPTION = 'tally_loyalty_settings';

	/** Every key the option holds, with its default. */
	const DEFAULTS = array(
		'tally_url'       => '',
		'api_key'         => '',
		'widget_secret'   => '',
		'publishable_key' => '',
		'connection_id'   => '',
		'webhook_ids'     => array(),
		'connected_at'    => 0,
	);

	/**
	 * The saved settings, every key present.
	 *
	 * @return array
	 */
	public static function get() {
		$saved = get_option( self::OPTION, array() );
		return array_merge( self::DEFAULTS, is_array( $saved ) ? array_intersect_key( $saved, self::DEFAULTS ) : array() );
	}

	/**
	 * Merges `$changes` into the saved settings.
	 *
	 * @param array $changes Keys of DEFAULTS.
	 */
	public static function update( array $changes ) {
		update_option( self::OPTION, array_merge( self::get(), array_intersect_key( $changes, self::DEFAULTS ) ) );
	}

	/**
	 * Checks the settings form. A secret left blank keeps the saved one (the form never shows
	 * secrets). Returns the settings to save and the errors, each a translated sentence.
	 *
	 * @param array $input  The form's fields.
	 * @param array $stored The saved settings.
	 * @return array{0: array, 1: string[]}
	 */
	public static function validate( array $input, array $stored ) {
		$errors   = array();
		$settings = $stored;

		$url = isset( $input['tally_url'] ) ? trim( (string) $input['tally_url'] ) : '';
		$url = rtrim( $url, '/' );
		$parts = '' === $url ? false : parse_url( $url );
		if ( false === $parts || ! isset( $parts['scheme'], $parts['host'] )
			|| ! in_array( strtolower( $parts['scheme'] ), array( 'http', 'https' ), true )
			|| isset( $parts['query'] ) || isset( $parts['fragment'] ) || isset( $parts['user'] ) ) {
			$errors[] = __( 'The Tally address must be a web address such as https://loyalty.example.com.', 'tally-loyalty' );
		} else {
			if ( $url !== $stored['tally_url'] ) {
				// Another Tally: the connection and key belong to the old one. The webhook ids
				// stay, so that connecting again removes those webhooks from the store.
				$settings['connection_id']   = '';
				$settings['publishable_key'] = '';
				$settings['connected_at']    = 0;
			}
			$settings['tally_url'] = $url;
		}

		$api_key = isset( $input['api_key'] ) ? trim( (string) $input['api_key'] ) : '';
		if ( '' !== $api_key ) {
			if ( 0 !== strpos( $api_key, 'sk_' ) || preg_match( '/\s/', $api_key ) ) {
				$errors[] = __( 'The secret API key starts with sk_ (Tally console, Install & API keys).', 'tally-loyalty' );
			} else {
				$settings['api_key'] = $api_key;
			}
		} elseif ( '' === $stored['api_key'] ) {
			$errors[] = __( 'Enter the secret API key.', 'tally-loyalty' );
		}

		$widget_secret = isset( $input['widget_secret'] ) ? trim( (string) $input['widget_secret'] ) : '';
		if ( '' !== $widget_secret ) {
			if ( preg_match( '/\s/', $widget_secret ) || strlen( $widget_secret ) < 16 ) {
				$errors[] = __( 'The widget secret is the long value the console reveals under Install & API keys.', 'tally-loyalty' );
			} else {
				$settings['widget_secret'] = $widget_secret;
			}
		} elseif ( '' === $stored['widget_secret'] ) {
			$errors[] = __( 'Enter the widget secret, or signed-in customers see the guest view.', 'tally-loyalty' );
		}

		return array( $settings, $errors );
	}
}
