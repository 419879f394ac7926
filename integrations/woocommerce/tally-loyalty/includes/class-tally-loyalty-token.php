<?php
/**
 * Customer tokens: HS256 JWTs signed with the program's widget secret, which tell the widget
 * who the signed-in shopper is. Tally accepts only HS256 and requires `exp`; the secret never
 * leaves the server.
 *
 * @package TallyLoyalty
 */

defined( 'ABSPATH' ) || exit;

/** Signs customer tokens. */
final class Tally_Loyalty_Token {
	/** How long a token lives: the page's widget asks Tally with it for this long. */
	const LIFETIME_SECONDS = 3600;

	/**
	 * A token for the WooCommerce customer `$customer_id` (the WordPress user id, which is the id
	 * WooCommerce's webhooks report for the customer's orders).
	 *
	 * @param int         $customer_id The customer's user id.
	 * @param string|null $email       Their email, for Tally's customer profile.
	 * @param string|null $name        Their display name.
	 * @param string      $secret      The program's widget secret.
	 * @param int         $now         Unix time in seconds.
	 * @return string
	 */
	public static function for_customer( $customer_id, $email, $name, $secret, $now ) {
		$claims = array(
			'sub' => (string) $customer_id,
			'iat' => $now,
			'exp' => $now + self::LIFETIME_SECONDS,
		);
		if ( null !== $email && '' !== $email ) {
			$claims['email'] = $email;
		}
		if ( null !== $name && '' !== $name ) {
			$claims['name'] = $name;
		}
		return self::sign( $claims, $secret );
	}

	/**
	 * A compact JWS of `$claims` with HMAC-SHA256 under `$secret`.
	 *
	 * @param array  $claims The claims.
	 * @param string $secret The key.
	 * @return string
	 */
	public static function sign( array $claims, $secret ) {
		$flags   = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE;
		$signing = self::base64url( json_encode( array( 'alg' => 'HS256', 'typ' => 'JWT' ), $flags ) )
			. '.' . self::base64url( json_encode( $claims, $flags ) );
		return $signing . '.' . self::base64url( hash_hmac( 'sha256', $signing, $secret, true ) );
	}

	/**
	 * Base64url without padding (RFC 7515).
	 *
	 * @param string $bytes Raw bytes.
	 * @return string
	 */
	private static function base64url( $bytes ) {
		return rtrim( strtr( base64_encode( $bytes ), '+/', '-_' ), '=' );
	}
}
