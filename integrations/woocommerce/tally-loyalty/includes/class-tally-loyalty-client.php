<?php
/**
 * Tally's merchant API, through the WordPress HTTP API.
 *
 * @package TallyLoyalty
 */

defined( 'ABSPATH' ) || exit;

/** Calls Tally's merchant API with the secret API key. */
final class Tally_Loyalty_Client {
	/** @var string */
	private $base_url;
	/** @var string */
	private $api_key;

	/**
	 * @param string $base_url Where Tally is, without a trailing slash.
	 * @param string $api_key  The program's secret API key (sk_...).
	 */
	public function __construct( $base_url, $api_key ) {
		$this->base_url = rtrim( $base_url, '/' );
		$this->api_key  = $api_key;
	}

	/**
	 * Sends one request; the answer's decoded JSON, or a WP_Error with Tally's own explanation
	 * (its problem's detail) when it refused.
	 *
	 * @param string     $method GET, POST or DELETE.
	 * @param string     $path   Under the base URL: /api/v1/...
	 * @param array|null $body   JSON body.
	 * @return array|WP_Error
	 */
	public function request( $method, $path, $body = null ) {
		$args = array(
			'method'  => $method,
			'timeout' => 15,
			'headers' => array(
				'Authorization' => 'Bearer ' . $this->api_key,
				'Accept'        => 'application/json',
				'User-Agent'    => 'TallyLoyalty/' . TALLY_LOYALTY_VERSION . ' (WordPress)',
			),
		);
		if ( null !== $body ) {
			$args['headers']['Content-Type'] = 'application/json';
			$args['body']                    = wp_json_encode( $body );
		}
		$response = wp_remote_request( $this->base_url . $path, $args );
		if ( is_wp_error( $response ) ) {
			/* translators: %s: the HTTP error */
			return new WP_Error( 'tally_unreachable', sprintf( __( 'Tally could not be reached: %s', 'tally-loyalty' ), $response->get_error_message() ) );
		}
		$status  = (int) wp_remote_retrieve_response_code( $response );
		$decoded = json_decode( (string) wp_remote_retrieve_body( $response ), true );
		if ( $status >= 200 && $status < 300 ) {
			return is_array( $decoded ) ? $decoded : array();
		}
		$detail = is_array( $decoded ) && isset( $decoded['detail'] ) ? (string) $decoded['detail'] : '';
		if ( 401 === $status ) {
			$detail = __( 'Tally did not accept the secret API key.', 'tally-loyalty' );
		}
		/* translators: 1: HTTP status code, 2: Tally's explanation */
		return new WP_Error( 'tally_refused', sprintf( __( 'Tally answered %1$d: %2$s', 'tally-loyalty' ), $status, $detail ), array( 'status' => $status ) );
	}
}
