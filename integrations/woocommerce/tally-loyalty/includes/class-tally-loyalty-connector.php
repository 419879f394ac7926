<?php
/**
 * The "Connect" button: a WooCommerce connection in Tally, then one WooCommerce webhook per
 * topic Tally asks for (WooCommerce's REST API v3, dispatched inside WordPress as the signed-in
 * shop manager), each with Tally's delivery URL and secret. Connecting again replaces the
 * earlier connection and its webhooks; a failure half-way removes what it made.
 *
 * @package TallyLoyalty
 */

defined( 'ABSPATH' ) || exit;

/** Connects and disconnects the store. */
final class Tally_Loyalty_Connector {
	/** Every webhook this plugin makes is named so, so that the shop manager knows whose it is. */
	const NAME_PREFIX = 'Tally: ';

	/** @var Tally_Loyalty_Client */
	private $tally;

	/**
	 * @param Tally_Loyalty_Client $tally Tally's merchant API.
	 */
	public function __construct( Tally_Loyalty_Client $tally ) {
		$this->tally = $tally;
	}

	/**
	 * Connects the store; the settings to save (connection, webhooks, publishable key), or a
	 * WP_Error saying what went wrong, with nothing new left behind. Once the earlier connection
	 * is removed, the error's data holds the settings to save (`settings`): disconnected.
	 *
	 * @param array $settings The saved settings.
	 * @return array|WP_Error
	 */
	public function connect( array $settings ) {
		$program = $this->tally->request( 'GET', '/api/v1/settings' );
		if ( is_wp_error( $program ) ) {
			return $program;
		}
		$previous = $this->disconnect( $settings );
		if ( is_wp_error( $previous ) ) {
			return $previous;
		}
		$connection = $this->tally->request( 'POST', '/api/v1/connections', array( 'platform' => 'woocommerce' ) );
		if ( is_wp_error( $connection ) ) {
			return self::with_settings( $connection, $previous );
		}
		$webhook_ids = array();
		foreach ( $connection['topics'] as $topic ) {
			$created = self::woocommerce(
				'POST',
				'/wc/v3/webhooks',
				array(
					'name'         => self::NAME_PREFIX . $topic,
					'topic'        => $topic,
					'delivery_url' => $connection['webhook_url'],
					'secret'       => $connection['secret'],
					'status'       => 'active',
				)
			);
			if ( is_wp_error( $created ) ) {
				$this->remove( $connection['id'], $webhook_ids );
				return self::with_settings( $created, $previous );
			}
			$webhook_ids[] = (int) $created['id'];
		}
		return array(
			'publishable_key' => (string) $program['publishable_key'],
			'connection_id'   => (string) $connection['id'],
			'webhook_ids'     => $webhook_ids,
			'connected_at'    => time(),
		);
	}

	/**
	 * Removes the connection the settings name and its webhooks (what is already gone is fine);
	 * the settings' connection keys cleared, or a WP_Error.
	 *
	 * @param array $settings The saved settings.
	 * @return array|WP_Error
	 */
	public function disconnect( array $settings ) {
		if ( '' !== $settings['connection_id'] || array() !== $settings['webhook_ids'] ) {
			$removed = $this->remove( $settings['connection_id'], $settings['webhook_ids'] );
			if ( is_wp_error( $removed ) ) {
				return $removed;
			}
		}
		return array(
			'connection_id' => '',
			'webhook_ids'   => array(),
			'connected_at'  => 0,
		);
	}

	/**
	 * Deletes webhooks `$webhook_ids` and Tally connection `$connection_id`.
	 *
	 * @param string $connection_id A Tally connection id, or ''.
	 * @param int[]  $webhook_ids   WooCommerce webhook ids.
	 * @return true|WP_Error
	 */
	private function remove( $connection_id, array $webhook_ids ) {
		foreach ( $webhook_ids as $id ) {
			$deleted = self::woocommerce( 'DELETE', '/wc/v3/webhooks/' . (int) $id, array( 'force' => true ) );
			if ( is_wp_error( $deleted ) && 404 !== self::status( $deleted ) ) {
				return $deleted;
			}
		}
		if ( '' !== $connection_id ) {
			$deleted = $this->tally->request( 'DELETE', '/api/v1/connections/' . rawurlencode( $connection_id ) );
			if ( is_wp_error( $deleted ) && 404 !== self::status( $deleted ) ) {
				return $deleted;
			}
		}
		return true;
	}

	/**
	 * One request to WooCommerce's REST API, dispatched inside WordPress.
	 *
	 * @param string $method GET, POST or DELETE.
	 * @param string $route  /wc/v3/...
	 * @param array  $params The request's parameters.
	 * @return array|WP_Error The response's data.
	 */
	private static function woocommerce( $method, $route, array $params ) {
		$request = new WP_REST_Request( $method, $route );
		foreach ( $params as $name => $value ) {
			$request->set_param( $name, $value );
		}
		$response = rest_do_request( $request );
		if ( $response->is_error() ) {
			$error = $response->as_error();
			return new WP_Error(
				'tally_woocommerce_refused',
				/* translators: %s: WooCommerce's error message */
				sprintf( __( 'WooCommerce refused to change its webhooks: %s', 'tally-loyalty' ), $error->get_error_message() ),
				array( 'status' => $response->get_status() )
			);
		}
		return (array) $response->get_data();
	}

	/**
	 * `$error` carrying the settings to save despite it.
	 *
	 * @param WP_Error $error    The error.
	 * @param array    $settings The settings.
	 * @return WP_Error
	 */
	private static function with_settings( WP_Error $error, array $settings ) {
		$data = $error->get_error_data();
		return new WP_Error( $error->get_error_code(), $error->get_error_message(), array_merge( is_array( $data ) ? $data : array(), array( 'settings' => $settings ) ) );
	}

	/**
	 * The HTTP status an error carries, or 0.
	 *
	 * @param WP_Error $error The error.
	 * @return int
	 */
	private static function status( WP_Error $error ) {
		$data = $error->get_error_data();
		return is_array( $data ) && isset( $data['status'] ) ? (int) $data['status'] : 0;
	}
}
