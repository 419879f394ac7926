<?php
/**
 * Just enough WordPress and WooCommerce for the plugin's tests to run its own code under
 * php-cli: options in memory, translations from the plugin's .l10n.php files, the HTTP API over
 * PHP streams (real requests to a real Tally), and WooCommerce's REST API v3 webhooks endpoint as
 * a fake that checks requests the way WooCommerce's controller does
 * (`WC_REST_Webhooks_V1_Controller::create_item` / `delete_item`, WooCommerce 9.x) and, like
 * WooCommerce, pings the delivery URL when a webhook is created and signs deliveries with
 * base64(HMAC-SHA256(body, secret)).
 *
 * @package TallyLoyalty
 */

define( 'ABSPATH', __DIR__ . '/' );

/** What the test world holds: options, hooks, the signed-in user, the locale, notices. */
final class Test_WordPress {
	public static $options      = array();
	public static $actions      = array();
	public static $transients   = array();
	public static $user         = null;
	public static $locale       = 'en_US';
	public static $capabilities = array( 'manage_woocommerce' );
	public static $translations = array();
	public static $nonces_ok    = true;
	public static $is_admin     = true;

	/** Loads the plugin's translations for `$locale`. */
	public static function use_locale( $locale ) {
		self::$locale       = $locale;
		$file               = dirname( __DIR__ ) . '/tally-loyalty/languages/tally-loyalty-' . $locale . '.l10n.php';
		self::$translations = is_file( $file ) ? ( include $file )['messages'] : array();
	}
}

/** Thrown where WordPress would redirect and exit. */
final class Test_Redirect extends Exception {}
/** Thrown where WordPress would die. */
final class Test_Died extends Exception {}

function add_action( $hook, $callback ) { Test_WordPress::$actions[ $hook ][] = $callback; }
function do_action( $hook, ...$args ) { foreach ( Test_WordPress::$actions[ $hook ] ?? array() as $callback ) { call_user_func_array( $callback, $args ); } }

/** WooCommerce's order, as far as the plugin touches it. */
final class WC_Order {
	public $meta = array();
	public function update_meta_data( $key, $value ) { $this->meta[ $key ] = $value; }
}
function is_admin() { return Test_WordPress::$is_admin; }
function load_plugin_textdomain( $domain, $deprecated, $path ) { return is_dir( dirname( __DIR__ ) . '/' . $path ); }
function plugin_basename( $file ) { return basename( dirname( $file ) ) . '/' . basename( $file ); }

function get_option( $name, $default = false ) { return array_key_exists( $name, Test_WordPress::$options ) ? Test_WordPress::$options[ $name ] : $default; }
function update_option( $name, $value ) { Test_WordPress::$options[ $name ] = $value; return true; }
function delete_option( $name ) { unset( Test_WordPress::$options[ $name ] ); return true; }
function set_transient( $name, $value, $ttl ) { Test_WordPress::$transients[ $name ] = $value; return true; }
function get_transient( $name ) { return Test_WordPress::$transients[ $name ] ?? false; }
function delete_transient( $name ) { unset( Test_WordPress::$transients[ $name ] ); return true; }

function __( $text, $domain ) {
	if ( 'tally-loyalty' !== $domain ) {
		throw new LogicException( "text domain $domain" );
	}
	return Test_WordPress::$translations[ $text ] ?? $text;
}
function esc_html__( $text, $domain ) { return esc_html( __( $text, $domain ) ); }
function esc_html( $text ) { return htmlspecialchars( (string) $text, ENT_QUOTES, 'UTF-8' ); }
function esc_attr( $text ) { return htmlspecialchars( (string) $text, ENT_QUOTES, 'UTF-8' ); }
function esc_url( $url ) { return htmlspecialchars( (string) $url, ENT_QUOTES, 'UTF-8' ); }
function wp_json_encode( $value ) { return json_encode( $value ); }
function wp_unslash( $value ) { return $value; }

class WP_Error {
	private $code;
	private $message;
	private $data;
	public function __construct( $code = '', $message = '', $data = '' ) { $this->code = $code; $this->message = $message; $this->data = $data; }
	public function get_error_code() { return $this->code; }
	public function get_error_message() { return $this->message; }
	public function get_error_data() { return $this->data; }
}
function is_wp_error( $thing ) { return $thing instanceof WP_Error; }

/** WordPress's HTTP API, as real requests over PHP streams. */
function wp_remote_request( $url, $args ) {
	$headers = '';
	foreach ( $args['headers'] ?? array() as $name => $value ) {
		$headers .= "$name: $value\r\n";
	}
	$context = stream_context_create(
		array(
			'http' => array(
				'method'          => $args['method'] ?? 'GET',
				'header'          => $headers,
				'content'         => $args['body'] ?? '',
				'timeout'         => $args['timeout'] ?? 5,
				'ignore_errors'   => true,
				'follow_location' => 0,
			),
		)
	);
	$body = @file_get_contents( $url, false, $context );
	if ( false === $body ) {
		return new WP_Error( 'http_request_failed', 'could not connect to ' . parse_url( $url, PHP_URL_HOST ) );
	}
	preg_match( '{^HTTP/\S+ (\d{3})}', $http_response_header[0], $status );
	Test_Http::$requests[] = array( 'method' => $args['method'] ?? 'GET', 'url' => $url, 'headers' => $args['headers'] ?? array(), 'status' => (int) $status[1] );
	return array( 'response' => array( 'code' => (int) $status[1] ), 'body' => $body );
}
function wp_safe_remote_post( $url, $args ) { return wp_remote_request( $url, array_merge( $args, array( 'method' => 'POST' ) ) ); }
function wp_remote_retrieve_response_code( $response ) { return $response['response']['code']; }
function wp_remote_retrieve_body( $response ) { return $response['body']; }

/** Every HTTP request the plugin (and the fake WooCommerce) sent. */
final class Test_Http {
	public static $requests = array();
}

class WP_User {
	public $ID;
	public $user_email;
	public $display_name;
	public $locale;
	public function __construct( $id, $email, $name, $locale = '' ) { $this->ID = $id; $this->user_email = $email; $this->display_name = $name; $this->locale = $locale; }
}
function is_user_logged_in() { return null !== Test_WordPress::$user; }
function wp_get_current_user() { return Test_WordPress::$user ?? new WP_User( 0, '', '' ); }
function get_current_user_id() { return null !== Test_WordPress::$user ? Test_WordPress::$user->ID : 0; }
function get_user_locale( $user ) { return '' !== $user->locale ? $user->locale : Test_WordPress::$locale; }
function determine_locale() { return Test_WordPress::$locale; }
function current_user_can( $capability ) { return in_array( $capability, Test_WordPress::$capabilities, true ); }

/** As WordPress 5.7+ prints it: attributes escaped, `true` as a bare attribute. */
function wp_print_script_tag( $attributes ) {
	$html = '<script';
	foreach ( $attributes as $name => $value ) {
		$html .= true === $value ? ' ' . esc_attr( $name ) : ' ' . esc_attr( $name ) . '="' . esc_attr( $value ) . '"';
	}
	echo $html . "></script>\n";
}

function wp_nonce_field( $action ) { echo '<input type="hidden" name="_wpnonce" value="nonce-' . esc_attr( $action ) . '">'; }
function check_admin_referer( $action ) {
	if ( ! Test_WordPress::$nonces_ok ) {
		throw new Test_Died( 'nonce' );
	}
	return 1;
}
function wp_die( $message = '', $title = '', $args = array() ) { throw new Test_Died( (string) $message ); }
function admin_url( $path ) { return 'https://shop.example/wp-admin/' . $path; }
function wp_safe_redirect( $url ) { throw new Test_Redirect( $url ); }
function add_submenu_page( ...$args ) { return 'tally-loyalty'; }
function submit_button( $text, $type = 'primary', $name = 'submit', $wrap = true ) { echo '<button type="submit" class="button button-' . esc_attr( $type ) . '">' . esc_html( $text ) . '</button>'; }

class WP_REST_Request {
	private $method;
	private $route;
	private $params = array();
	public function __construct( $method, $route ) { $this->method = $method; $this->route = $route; }
	public function get_method() { return $this->method; }
	public function get_route() { return $this->route; }
	public function set_param( $name, $value ) { $this->params[ $name ] = $value; }
	public function get_params() { return $this->params; }
}

class WP_REST_Response {
	private $data;
	private $status;
	public function __construct( $data, $status ) { $this->data = $data; $this->status = $status; }
	public function get_data() { return $this->data; }
	public function get_status() { return $this->status; }
	public function is_error() { return $this->status >= 400; }
	public function as_error() { return new WP_Error( $this->data['code'], $this->data['message'], $this->data['data'] ); }
}

function rest_do_request( WP_REST_Request $request ) { return Fake_WooCommerce::dispatch( $request ); }

/** WooCommerce's webhooks, as its REST API v3 keeps and checks them. */
final class Fake_WooCommerce {
	/** @var array<int, array> Webhooks by id, with their secret and API version. */
	public static $webhooks = array();
	/** Every REST request dispatched to it. */
	public static $requests = array();
	/** Ping answers (HTTP status), in order. */
	public static $pings = array();
	/** Refuse the nth create from now on (for the tests of failures half-way). */
	public static $refuse_create = 0;
	private static $next_id = 1;

	/** wc_is_webhook_valid_topic(): resource.event of WooCommerce's own, or action.*. */
	private static function valid_topic( $topic ) {
		if ( 0 === strpos( $topic, 'action.' ) ) {
			return true;
		}
		$parts = explode( '.', $topic );
		return 2 === count( $parts )
			&& in_array( $parts[0], array( 'coupon', 'customer', 'order', 'product' ), true )
			&& in_array( $parts[1], array( 'created', 'updated', 'deleted', 'restored' ), true );
	}

	private static function error( $code, $message, $status ) {
		return new WP_REST_Response( array( 'code' => $code, 'message' => $message, 'data' => array( 'status' => $status ) ), $status );
	}

	public static function dispatch( WP_REST_Request $request ) {
		$params           = $request->get_params();
		self::$requests[] = array( 'method' => $request->get_method(), 'route' => $request->get_route(), 'params' => $params );
		if ( 'POST' === $request->get_method() && '/wc/v3/webhooks' === $request->get_route() ) {
			if ( ! current_user_can( 'manage_woocommerce' ) ) {
				return self::error( 'woocommerce_rest_cannot_create', 'Sorry, you are not allowed to create resources.', 401 );
			}
			if ( self::$refuse_create > 0 && 0 === --self::$refuse_create ) {
				return self::error( 'woocommerce_rest_cannot_create', 'The webhook could not be saved.', 500 );
			}
			if ( empty( $params['topic'] ) || ! self::valid_topic( strtolower( $params['topic'] ) ) ) {
				return self::error( 'woocommerce_rest_shop_webhook_invalid_topic', 'Webhook topic is required and must be valid.', 400 );
			}
			if ( empty( $params['delivery_url'] ) || ! preg_match( '{^https?://}', $params['delivery_url'] ) || false === filter_var( $params['delivery_url'], FILTER_VALIDATE_URL ) ) {
				return self::error( 'woocommerce_rest_shop_webhook_invalid_delivery_url', 'Webhook delivery URL must be a valid URL starting with http:// or https://.', 400 );
			}
			$id                    = self::$next_id++;
			list( $resource, $event ) = explode( '.', $params['topic'] );
			self::$webhooks[ $id ] = array(
				'id'           => $id,
				'name'         => $params['name'] ?? 'Webhook created on ' . gmdate( 'M d, Y @ h:i A' ),
				'status'       => 'active',
				'topic'        => $params['topic'],
				'resource'     => $resource,
				'event'        => $event,
				'hooks'        => array( 'woocommerce_' . $resource . '_' . $event ),
				'delivery_url' => $params['delivery_url'],
				'secret'       => ! empty( $params['secret'] ) ? $params['secret'] : bin2hex( random_bytes( 25 ) ),
				'api_version'  => 'wp_api_v3',
				'date_created' => gmdate( 'Y-m-d\TH:i:s' ),
			);
			// WC_Webhook::deliver_ping(): a form post of the webhook's id.
			$ping          = wp_safe_remote_post( $params['delivery_url'], array( 'headers' => array( 'Content-Type' => 'application/x-www-form-urlencoded', 'User-Agent' => 'WooCommerce/9.4.0 Hookshot (WordPress/6.7.1)' ), 'body' => 'webhook_id=' . $id ) );
			self::$pings[] = is_wp_error( $ping ) ? 0 : wp_remote_retrieve_response_code( $ping );
			$data          = self::$webhooks[ $id ];
			unset( $data['secret'], $data['api_version'] );
			return new WP_REST_Response( $data, 201 );
		}
		if ( 'DELETE' === $request->get_method() && preg_match( '{^/wc/v3/webhooks/(\d+)$}', $request->get_route(), $match ) ) {
			if ( empty( $params['force'] ) ) {
				return self::error( 'woocommerce_rest_trash_not_supported', 'Webhooks do not support trashing.', 501 );
			}
			$id = (int) $match[1];
			if ( ! isset( self::$webhooks[ $id ] ) ) {
				return self::error( 'woocommerce_rest_shop_webhook_invalid_id', 'Invalid ID.', 404 );
			}
			$data = self::$webhooks[ $id ];
			unset( self::$webhooks[ $id ], $data['secret'], $data['api_version'] );
			return new WP_REST_Response( $data, 200 );
		}
		return self::error( 'rest_no_route', 'No route was found matching the URL and request method.', 404 );
	}

	/**
	 * Sends `$payload` to every active webhook of `$topic` as WC_Webhook::deliver() does; the
	 * HTTP statuses.
	 */
	public static function deliver( $topic, array $payload ) {
		$statuses = array();
		foreach ( self::$webhooks as $webhook ) {
			if ( $webhook['topic'] !== $topic || 'active' !== $webhook['status'] ) {
				continue;
			}
			$body     = json_encode( $payload );
			$response = wp_remote_request(
				$webhook['delivery_url'],
				array(
					'method'  => 'POST',
					'body'    => $body,
					'headers' => array(
						'Content-Type'            => 'application/json',
						'User-Agent'              => 'WooCommerce/9.4.0 Hookshot (WordPress/6.7.1)',
						'X-WC-Webhook-Source'     => 'https://shop.example/',
						'X-WC-Webhook-Topic'      => $webhook['topic'],
						'X-WC-Webhook-Resource'   => $webhook['resource'],
						'X-WC-Webhook-Event'      => $webhook['event'],
						'X-WC-Webhook-Signature'  => base64_encode( hash_hmac( 'sha256', $body, $webhook['secret'], true ) ),
						'X-WC-Webhook-ID'         => (string) $webhook['id'],
						'X-WC-Webhook-Delivery-ID' => bin2hex( random_bytes( 16 ) ),
					),
				)
			);
			$statuses[] = is_wp_error( $response ) ? 0 : wp_remote_retrieve_response_code( $response );
		}
		return $statuses;
	}
}
