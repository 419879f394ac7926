<?php
/**
 * The plugin's tests: its own code under php-cli (WordPress and WooCommerce's webhooks endpoint
 * from `wordpress.php`) against a real Tally server. `server/tests/it/wordpress.rs` starts the
 * server, makes the program and runs this with:
 *
 *   TALLY_URL, TALLY_API_KEY (sk_...), TALLY_WIDGET_SECRET, TALLY_ORIGIN (an allowed origin),
 *   TALLY_ORDER_FIXTURE (WooCommerce's documented order example)
 *
 * It prints one line per check, then a JSON line for the Rust side (the token it signed, to
 * read the shopper's points once Tally applied the delivery). Exit status 1 on any failure.
 *
 * @package TallyLoyalty
 */

require __DIR__ . '/wordpress.php';
require dirname( __DIR__ ) . '/tally-loyalty/tally-loyalty.php';

$env = array();
foreach ( array( 'TALLY_URL', 'TALLY_API_KEY', 'TALLY_WIDGET_SECRET', 'TALLY_ORIGIN', 'TALLY_ORDER_FIXTURE', 'TALLY_REFERRAL_CODE' ) as $name ) {
	$value = getenv( $name );
	if ( false === $value || '' === $value ) {
		fwrite( STDERR, "$name is not set\n" );
		exit( 2 );
	}
	$env[ $name ] = $value;
}

$failures = 0;
function check( $name, callable $test ) {
	global $failures;
	try {
		$test();
		echo "ok   $name\n";
	} catch ( Throwable $error ) {
		++$failures;
		echo "FAIL $name: " . $error->getMessage() . ' (' . basename( $error->getFile() ) . ':' . $error->getLine() . ")\n";
	}
}
function same( $expected, $actual, $what ) {
	if ( $expected !== $actual ) {
		throw new RuntimeException( "$what: expected " . var_export( $expected, true ) . ', got ' . var_export( $actual, true ) );
	}
}
function truthy( $condition, $what ) {
	if ( ! $condition ) {
		throw new RuntimeException( $what );
	}
}
/** Runs an admin form handler as WordPress would: it ends in a redirect; the notice it left. */
function submit( $handler, array $post = array() ) {
	$_POST = $post;
	try {
		call_user_func( array( 'Tally_Loyalty_Admin', $handler ) );
		throw new RuntimeException( "$handler did not redirect" );
	} catch ( Test_Redirect $redirect ) {
		same( 'https://shop.example/wp-admin/admin.php?page=tally-loyalty', $redirect->getMessage(), 'redirect' );
	}
	return get_transient( 'tally_loyalty_notice_' . get_current_user_id() );
}
/** A GET to Tally's widget API, as the browser's widget sends it. */
function widget_get( $path, $token ) {
	global $env;
	$headers = array( 'Origin' => $env['TALLY_ORIGIN'] );
	if ( null !== $token ) {
		$headers['Authorization'] = 'Bearer ' . $token;
	}
	$response = wp_remote_request( $env['TALLY_URL'] . $path, array( 'method' => 'GET', 'headers' => $headers ) );
	return array( wp_remote_retrieve_response_code( $response ), json_decode( wp_remote_retrieve_body( $response ), true ) );
}
function tally_connections() {
	global $env;
	$client = new Tally_Loyalty_Client( $env['TALLY_URL'], $env['TALLY_API_KEY'] );
	return $client->request( 'GET', '/api/v1/connections' );
}

$manager = new WP_User( 1, 'owner@shop.example', 'Shop Owner' );
$ana     = new WP_User( 25, 'ana@example.com', 'Ana Kim', 'ko_KR' );
Test_WordPress::$user = $manager;

check(
	'the plugin boots: its text domain, footer hook and admin handlers are registered',
	function () {
		do_action( 'init' );
		same( array( array( 'Tally_Loyalty_Widget', 'print_script_tag' ) ), Test_WordPress::$actions['wp_footer'], 'footer hook' );
		foreach ( array( 'admin_menu', 'admin_post_tally_loyalty_save', 'admin_post_tally_loyalty_connect', 'admin_post_tally_loyalty_disconnect' ) as $hook ) {
			truthy( isset( Test_WordPress::$actions[ $hook ] ), "$hook is hooked" );
		}
	}
);

check(
	'bad settings are refused, each with its message, and nothing is saved',
	function () {
		$notice = submit( 'handle_save', array( 'tally_loyalty' => array( 'tally_url' => 'ftp://x', 'api_key' => 'pk_wrong', 'widget_secret' => 'short' ) ) );
		same( 'error', $notice['kind'], 'kind' );
		same( 3, count( $notice['messages'] ), 'one message per field: ' . implode( ' | ', $notice['messages'] ) );
		same( '', Tally_Loyalty_Settings::get()['api_key'], 'no key saved' );
	}
);

check(
	'settings save; a blank secret keeps the saved one',
	function () use ( $env ) {
		$notice = submit( 'handle_save', array( 'tally_loyalty' => array( 'tally_url' => $env['TALLY_URL'] . '/', 'api_key' => $env['TALLY_API_KEY'], 'widget_secret' => $env['TALLY_WIDGET_SECRET'] ) ) );
		same( array( 'kind' => 'success', 'messages' => array( 'Settings saved.' ) ), $notice, 'notice' );
		same( $env['TALLY_URL'], Tally_Loyalty_Settings::get()['tally_url'], 'address without the slash' );
		submit( 'handle_save', array( 'tally_loyalty' => array( 'tally_url' => $env['TALLY_URL'], 'api_key' => '', 'widget_secret' => '' ) ) );
		same( $env['TALLY_API_KEY'], Tally_Loyalty_Settings::get()['api_key'], 'kept key' );
		same( $env['TALLY_WIDGET_SECRET'], Tally_Loyalty_Settings::get()['widget_secret'], 'kept secret' );
	}
);

check(
	'only shop managers may submit the forms',
	function () {
		Test_WordPress::$capabilities = array();
		try {
			submit( 'handle_connect' );
			throw new RuntimeException( 'a customer connected the store' );
		} catch ( Test_Died $died ) {
			truthy( false !== strpos( $died->getMessage(), 'shop managers' ), $died->getMessage() );
		} finally {
			Test_WordPress::$capabilities = array( 'manage_woocommerce' );
		}
		same( array(), Fake_WooCommerce::$requests, 'no WooCommerce request' );
	}
);

check(
	'a wrong API key: Tally\'s refusal is shown, nothing is created',
	function () use ( $env ) {
		Tally_Loyalty_Settings::update( array( 'api_key' => 'sk_not_a_key' ) );
		$notice = submit( 'handle_connect' );
		Tally_Loyalty_Settings::update( array( 'api_key' => $env['TALLY_API_KEY'] ) );
		same( 'error', $notice['kind'], 'kind' );
		same( array( 'Tally answered 401: Tally did not accept the secret API key.' ), $notice['messages'], 'message' );
		same( array(), Fake_WooCommerce::$webhooks, 'webhooks' );
	}
);

$connected = function () use ( $env ) {
	$connections = tally_connections();
	same( 1, count( $connections ), 'one connection in Tally' );
	$connection = $connections[0];
	$settings   = Tally_Loyalty_Settings::get();
	same( $connection['id'], $settings['connection_id'], 'the saved connection' );
	same( 'woocommerce', $connection['platform'], 'platform' );
	$webhooks = array_values( Fake_WooCommerce::$webhooks );
	same( $connection['topics'], array_column( $webhooks, 'topic' ), 'one webhook per topic Tally asks for' );
	same( array( 'order.created', 'order.updated', 'order.deleted', 'customer.created' ), $connection['topics'], 'topics' );
	foreach ( $webhooks as $webhook ) {
		same( 'Tally: ' . $webhook['topic'], $webhook['name'], 'name' );
		same( $connection['webhook_url'], $webhook['delivery_url'], 'delivery URL' );
		same( $connection['secret'], $webhook['secret'], 'secret' );
		same( 'active', $webhook['status'], 'status' );
		same( 'wp_api_v3', $webhook['api_version'], 'API version 3 (the v3 endpoint)' );
	}
	same( array_column( $webhooks, 'id' ), $settings['webhook_ids'], 'the saved webhook ids' );
	return $connection;
};

check(
	'connect: one connection in Tally, a v3 webhook per topic with its URL and secret, each ping answered',
	function () use ( $env, $connected ) {
		$notice = submit( 'handle_connect' );
		same( 'success', $notice['kind'], 'kind: ' . implode( ' | ', $notice['messages'] ) );
		same( array( 'Connected: WooCommerce now sends orders, refunds and new customers to Tally (4 webhooks).' ), $notice['messages'], 'message' );
		$connected();
		same( array( 200, 200, 200, 200 ), Fake_WooCommerce::$pings, 'Tally answers WooCommerce\'s pings' );
		same( Tally_Loyalty_Settings::get()['publishable_key'], tally_connections() ? ( new Tally_Loyalty_Client( $env['TALLY_URL'], $env['TALLY_API_KEY'] ) )->request( 'GET', '/api/v1/settings' )['publishable_key'] : null, 'publishable key' );
	}
);

check(
	'connect again: the earlier connection and webhooks are replaced, not doubled',
	function () use ( $connected ) {
		$before = Tally_Loyalty_Settings::get();
		submit( 'handle_connect' );
		$connection = $connected();
		truthy( $connection['id'] !== $before['connection_id'], 'a new connection' );
		$deleted = array_filter( Fake_WooCommerce::$requests, function ( $request ) { return 'DELETE' === $request['method']; } );
		same( count( $before['webhook_ids'] ), count( $deleted ), 'old webhooks deleted' );
		foreach ( $deleted as $request ) {
			same( true, $request['params']['force'], 'deleted for good (webhooks cannot be trashed)' );
		}
	}
);

check(
	'disconnect removes the webhooks and the connection',
	function () {
		$notice = submit( 'handle_disconnect' );
		same( 'success', $notice['kind'], 'kind' );
		same( array(), Fake_WooCommerce::$webhooks, 'webhooks' );
		same( array(), tally_connections(), 'connections' );
		same( '', Tally_Loyalty_Settings::get()['connection_id'], 'settings' );
	}
);

check(
	'WooCommerce refusing half-way: what was made is removed, the message says why',
	function () {
		submit( 'handle_connect' );
		Fake_WooCommerce::$refuse_create = 3;
		$notice = submit( 'handle_connect' );
		same( 'error', $notice['kind'], 'kind' );
		same( array( 'WooCommerce refused to change its webhooks: The webhook could not be saved.' ), $notice['messages'], 'message' );
		same( array(), Fake_WooCommerce::$webhooks, 'no webhook left' );
		same( array(), tally_connections(), 'no connection left' );
		same( '', Tally_Loyalty_Settings::get()['connection_id'], 'the settings say disconnected' );
		same( array(), Tally_Loyalty_Settings::get()['webhook_ids'], 'no webhook ids' );
	}
);

$token = null;
check(
	'a signed-in customer\'s script tag carries a token Tally accepts, in their language',
	function () use ( $env, $ana, &$token ) {
		submit( 'handle_connect' );
		Test_WordPress::$user = $ana;
		ob_start();
		do_action( 'wp_footer' );
		$html                 = ob_get_clean();
		Test_WordPress::$user = null;
		$settings             = Tally_Loyalty_Settings::get();
		truthy( preg_match( '{^<script src="([^"]+)" data-program="([^"]+)" async data-locale="ko" data-customer-token="([^"]+)"></script>$}', trim( $html ), $tag ), "tag: $html" );
		same( $env['TALLY_URL'] . '/widget.js', $tag[1], 'src' );
		same( $settings['publishable_key'], $tag[2], 'program' );
		$token = $tag[3];
		list( $status, $me ) = widget_get( '/widget/v1/programs/' . $settings['publishable_key'] . '/me', $token );
		same( 200, $status, 'Tally accepts the token: ' . json_encode( $me ) );
		same( '25', $me['customer_id'], 'the WordPress user id is the customer id' );
		$claims = json_decode( base64_decode( strtr( explode( '.', $token )[1], '-_', '+/' ) ), true );
		same( array( 'sub', 'iat', 'exp', 'email', 'name' ), array_keys( $claims ), 'claims' );
		same( 3600, $claims['exp'] - $claims['iat'], 'an hour' );
	}
);

check(
	'a token signed with another secret is refused by Tally',
	function () use ( $env ) {
		$forged = Tally_Loyalty_Token::for_customer( 25, null, null, 'not-the-widget-secret-at-all', time() );
		list( $status, $problem ) = widget_get( '/widget/v1/programs/' . Tally_Loyalty_Settings::get()['publishable_key'] . '/me', $forged );
		same( 401, $status, 'status' );
		same( 'invalid_customer_token', $problem['code'] ?? basename( (string) ( $problem['type'] ?? '' ) ), 'problem: ' . json_encode( $problem ) );
	}
);

check(
	'guests get the tag without a token (the guest view)',
	function () {
		Test_WordPress::use_locale( 'ja' );
		ob_start();
		do_action( 'wp_footer' );
		$html = ob_get_clean();
		Test_WordPress::use_locale( 'en_US' );
		truthy( false === strpos( $html, 'data-customer-token' ), "no token: $html" );
		truthy( false !== strpos( $html, 'data-locale="ja"' ), "the site's language: $html" );
		same( 'zh-CN', Tally_Loyalty_Widget::language( 'zh_CN' ), 'zh_CN' );
		same( null, Tally_Loyalty_Widget::language( 'zh_TW' ), 'a language the widget does not speak' );
		same( 'id', Tally_Loyalty_Widget::language( 'id_ID' ), 'id_ID' );
	}
);

$referral_meta = array();
check(
	'the referral code the widget kept goes into the order placed at checkout (classic and block checkout)',
	function () use ( $env, &$referral_meta ) {
		$_COOKIE = array( 'tally_ref' => strtolower( $env['TALLY_REFERRAL_CODE'] ) );
		$order   = new WC_Order();
		do_action( 'woocommerce_checkout_create_order', $order );
		same( array( '_tally_ref' => $env['TALLY_REFERRAL_CODE'] ), $order->meta, 'the meta data' );
		$blocks = new WC_Order();
		do_action( 'woocommerce_store_api_checkout_update_order_from_request', $blocks, null );
		same( $order->meta, $blocks->meta, 'the block checkout' );
		$_COOKIE = array( 'tally_ref' => 'x"; DROP' );
		$other   = new WC_Order();
		do_action( 'woocommerce_checkout_create_order', $other );
		same( array(), $other->meta, 'a cookie that is no code' );
		$_COOKIE = array();
		foreach ( $order->meta as $key => $value ) {
			$referral_meta[] = array( 'id' => 901, 'key' => $key, 'value' => $value );
		}
	}
);

$delivered = null;
check(
	'WooCommerce\'s signed order delivery, through the webhook the plugin made, is accepted by Tally',
	function () use ( $env, &$delivered, $referral_meta ) {
		$order                = json_decode( file_get_contents( $env['TALLY_ORDER_FIXTURE'] ), true );
		$order['customer_id'] = 25;
		$order['meta_data']   = array_merge( $order['meta_data'], $referral_meta );
		same( array( 200 ), Fake_WooCommerce::deliver( 'order.created', $order ), 'Tally verified the signature' );
		$delivered = $order['total'];
	}
);

check(
	'every word of the plugin is translated into Korean, Japanese, Chinese and Indonesian',
	function () {
		$sources = array();
		foreach ( glob( dirname( __DIR__ ) . '/tally-loyalty/{*.php,includes/*.php}', GLOB_BRACE ) as $file ) {
			preg_match_all( "/(?:__|esc_html__)\\(\\s*'((?:[^'\\\\]|\\\\.)*)',\\s*'tally-loyalty'/", file_get_contents( $file ), $found );
			foreach ( $found[1] as $text ) {
				$sources[ stripslashes( $text ) ] = true;
			}
		}
		truthy( count( $sources ) > 30, 'found the sources' );
		foreach ( array( 'ko_KR', 'ja', 'zh_CN', 'id_ID' ) as $locale ) {
			Test_WordPress::use_locale( $locale );
			$missing = array_diff( array_keys( $sources ), array_keys( Test_WordPress::$translations ) );
			same( array(), array_values( $missing ), "$locale missing" );
			$unused = array_diff( array_keys( Test_WordPress::$translations ), array_keys( $sources ) );
			same( array(), array_values( $unused ), "$locale unused" );
			foreach ( Test_WordPress::$translations as $source => $translation ) {
				preg_match_all( '/%(?:\d\$)?[sd]/', $source, $want );
				preg_match_all( '/%(?:\d\$)?[sd]/', $translation, $have );
				sort( $want[0] );
				sort( $have[0] );
				same( $want[0], $have[0], "$locale placeholders of \"$source\"" );
			}
			ob_start();
			Tally_Loyalty_Admin::render();
			$page = ob_get_clean();
			foreach ( array_keys( $sources ) as $source ) {
				if ( false === strpos( $source, '%' ) && strlen( $source ) > 12 ) {
					truthy( false === strpos( $page, esc_html( $source ) ), "$locale page shows \"$source\" in English" );
				}
			}
		}
		Test_WordPress::use_locale( 'en_US' );
	}
);

echo json_encode( array( 'token' => $token, 'customer' => '25', 'order_total' => $delivered ) ) . "\n";
exit( $failures > 0 ? 1 : 0 );
